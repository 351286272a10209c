//! How typed times are written in a snapshot: RFC 3339 with a numeric offset
//! (`2026-11-22T23:57:06.778039+00:00`), exactly the text snapshots have always held.
//! chrono's own serde form would write `Z` for UTC.

/// `#[serde(with = "crate::facts::time::rfc3339_opt")]` for `Option<DateTime<FixedOffset>>`.
pub mod rfc3339_opt {
    use chrono::{DateTime, FixedOffset};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        t: &Option<DateTime<FixedOffset>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&t.to_rfc3339()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| DateTime::parse_from_rfc3339(s.trim()).map_err(serde::de::Error::custom))
            .transpose()
    }
}
