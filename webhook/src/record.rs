//! Small records kept in reflector stores instead of whole objects, where a store needs only a
//! few fields of each object: the record, watch events mapped to records, and [`NameKey`], the
//! key of the controllers' own per-object maps.

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

/// Namespace and name of an object: the key of the controllers' own per-object maps. (An
/// [`ObjectRef`] of a dynamic type carries a copy of the type's API resource, five strings, in
/// every key.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NameKey {
    namespace: Option<Box<str>>,
    name: Box<str>,
}

impl NameKey {
    /// The key of `namespace/name`.
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        NameKey { namespace: namespace.map(Into::into), name: name.into() }
    }

    /// The key of the object with this metadata.
    pub fn of(meta: &ObjectMeta) -> Self {
        Self::new(meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default())
    }

    /// Its namespace.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<T> From<&Named<T>> for NameKey {
    fn from(r: &Named<T>) -> Self {
        Self::new(r.namespace.as_deref(), &r.name)
    }
}

impl std::fmt::Display for NameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
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
        let key = NameKey::from(&r);
        assert_eq!((key.namespace(), key.name(), key.to_string().as_str()), (Some("ns"), "a", "ns/a"));
        assert_eq!(key, NameKey::of(&meta));
        assert_eq!(NameKey::new(None, "b").to_string(), "b");
    }
}
