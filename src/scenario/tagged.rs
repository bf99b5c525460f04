//! Choices written as single-key maps: `auth: { basic: { … } }`, `{ equals: no-store }`, or a bare
//! word for a choice without value (`present`).
//!
//! serde_yaml 0.9 reads enums only from YAML tags (`!basic`); this module lets the derived enum
//! impls read the single-key-map form too, and refuses a map with more than one key (it would
//! silently drop a check).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, Visitor,
};

/// An enum whose derived `Deserialize` (generated with `#[serde(remote = "Self")]`) reads from
/// any enum-capable deserializer.
pub trait Derived: Sized {
    /// What the enum accepts, for messages.
    const EXPECTING: &'static str;
    /// Calls the derived impl.
    fn derived<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// Implements `Deserialize` for an enum through [`Derived`].
#[macro_export]
#[doc(hidden)]
macro_rules! tagged_enum {
    ($ty:ty, $expecting:literal) => {
        impl $crate::scenario::tagged::Derived for $ty {
            const EXPECTING: &'static str = $expecting;
            fn derived<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$ty>::deserialize(d)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::scenario::tagged::deserialize(d)
            }
        }
    };
}

/// Reads `T` from a single-key map, a bare word, or a YAML tag.
pub fn deserialize<'de, D: Deserializer<'de>, T: Derived>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Derived> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::derived(v.into_deserializer())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::derived(SingleKeyMap { map })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<T, A::Error> {
        T::derived(de::value::EnumAccessDeserializer::new(data))
    }
}

struct SingleKeyMap<A> {
    map: A,
}

impl<A> SingleKeyMap<A> {
    fn end<'de>(mut self) -> Result<(), A::Error>
    where
        A: MapAccess<'de>,
    {
        // Refused while reading the key, so the error is located at the extra key.
        self.map.next_key::<NoMoreKeys>()?;
        Ok(())
    }
}

/// A key after the one naming the choice: always an error.
struct NoMoreKeys;

impl<'de> de::Deserialize<'de> for NoMoreKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = NoMoreKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("no other key")
            }
            fn visit_str<E: de::Error>(self, extra: &str) -> Result<NoMoreKeys, E> {
                Err(E::custom(format!(
                    "expected exactly one key naming the choice, found another key `{extra}`: write one item per choice"
                )))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for SingleKeyMap<A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> de::EnumAccess<'de> for SingleKeyMap<A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        mut self,
        seed: V,
    ) -> Result<(V::Value, Self), A::Error> {
        match self.map.next_key_seed(seed)? {
            Some(variant) => Ok((variant, self)),
            None => Err(de::Error::custom(
                "expected one key naming the choice, found an empty map",
            )),
        }
    }
}

impl<'de, A: MapAccess<'de>> de::VariantAccess<'de> for SingleKeyMap<A> {
    type Error = A::Error;

    fn unit_variant(mut self) -> Result<(), A::Error> {
        self.map.next_value::<IgnoredAny>()?;
        self.end()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        mut self,
        seed: T,
    ) -> Result<T::Value, A::Error> {
        let value = self.map.next_value_seed(seed)?;
        self.end()?;
        Ok(value)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom(
            "tuple choices are not part of the format",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom(
            "struct choices are not part of the format",
        ))
    }
}
