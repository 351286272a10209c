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

/// `#[serde(with = "crate::facts::time::offset_opt")]` for `Option<FixedOffset>`: written
/// `+00:00` / `-05:00`, the text snapshots have always held.
pub mod offset_opt {
    use chrono::FixedOffset;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(o: &Option<FixedOffset>, s: S) -> Result<S::Ok, S::Error> {
        match o {
            Some(o) => s.serialize_some(&o.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FixedOffset>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                s.trim().parse::<FixedOffset>().map_err(|_| {
                    serde::de::Error::custom(format!(
                        "unrecognised UTC offset {s:?} (expected +00:00)"
                    ))
                })
            })
            .transpose()
    }
}

use std::fmt;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A time as a log or a tool printed it: the wall-clock reading, the zone offset when the
/// text carried one, and the text itself. Parsed once, where the fact is made (or when a
/// snapshot is read); checks compare [`WallTime::at`], never the text. The text is kept so
/// a snapshot writes back exactly what it recorded and evidence quotes the log's own form.
///
/// Forms read: RFC 3339 (`2026-11-22T03:12:01+00:00`, fractions allowed), journalctl's
/// short-iso (`2026-11-22T03:12:01+0000`), nginx's error log (`2026/11/22 03:12:01`), ISO
/// without a zone (`2026-11-22T03:12:01`, `2026-11-22 03:12:01`) and journalctl's / BSD
/// syslog's short form without a year (`Nov 22 03:12:01`, `Nov  2 03:12:01.123456`). A
/// short-form time has no [`at`](WallTime::at) until [`settle_year`](WallTime::settle_year)
/// gives it the year of the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WallTime {
    text: String,
    clock: Clock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    Dated {
        at: NaiveDateTime,
        offset: Option<FixedOffset>,
    },
    /// Month, day and time of day; the year is decided against the collection time.
    Yearless {
        month: u32,
        day: u32,
        time: NaiveTime,
    },
}

/// Text that is none of the forms [`WallTime`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError(String);

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unrecognised time {:?} (expected RFC 3339, 2026-11-22T03:12:01, 2026/11/22 03:12:01 or Nov 22 03:12:01)",
            self.0
        )
    }
}

impl std::error::Error for TimeError {}

/// The `YYYY-MM-DDTHH:MM:SS` form badgw writes for zoneless times it normalised itself.
const ISO: &str = "%Y-%m-%dT%H:%M:%S";

impl WallTime {
    /// Reads `text` in any of the recorded forms; the text is kept as given.
    pub fn parse(text: &str) -> Result<WallTime, TimeError> {
        let clock = clock_of(text.trim()).ok_or_else(|| TimeError(text.to_string()))?;
        Ok(WallTime {
            text: text.to_string(),
            clock,
        })
    }

    /// A zoneless wall-clock time badgw normalised itself, written `YYYY-MM-DDTHH:MM:SS`.
    pub fn naive(at: NaiveDateTime) -> WallTime {
        WallTime {
            text: at.format(ISO).to_string(),
            clock: Clock::Dated { at, offset: None },
        }
    }

    /// The wall-clock reading as printed (in the zone the writer ran in); None for a
    /// short-form time whose year is not settled yet.
    pub fn at(&self) -> Option<NaiveDateTime> {
        match self.clock {
            Clock::Dated { at, .. } => Some(at),
            Clock::Yearless { .. } => None,
        }
    }

    /// The zone offset the text carried, if any (RFC 3339, short-iso).
    pub fn offset(&self) -> Option<FixedOffset> {
        match self.clock {
            Clock::Dated { offset, .. } => offset,
            Clock::Yearless { .. } => None,
        }
    }

    /// The instant, when the text carried its zone.
    pub fn zoned(&self) -> Option<DateTime<FixedOffset>> {
        let at = self.at()?;
        at.and_local_timezone(self.offset()?).single()
    }

    /// The text as recorded.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Gives a short-form time (no year) the latest year that puts it at or before
    /// `reference` (the collection time, in the same zone) plus a day of clock skew: a
    /// journal line of "Dec 31 23:59:58" read on Jan 1 is last year's, "Jan 1 00:00:03"
    /// read on Dec 31 at 23:59:59 next year's (the rule `logs::prefix` applies to
    /// collector stamps). Times with a year are left as they are; a date that exists in
    /// none of those years (Feb 29) stays unsettled.
    pub fn settle_year(&mut self, reference: NaiveDateTime) {
        let Clock::Yearless { month, day, time } = self.clock else {
            return;
        };
        let at = year_of_yearless(reference, month, day, time - NaiveTime::MIN)
            .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
            .map(|d| d.and_time(time));
        if let Some(at) = at {
            self.clock = Clock::Dated { at, offset: None };
        }
    }
}

/// The year of a stamp that has none (month, day, time into the day): the latest of the
/// years after, of and before `reference` that puts it at or before `reference` plus a
/// day of clock skew between the log's writer and its reader. A "Dec 31 23:59:58" line
/// read on Jan 1 is last year's; "Jan 1 00:00:03" read on Dec 31 at 23:59:59 is next
/// year's. None for a date in none of those years (Feb 29). The one definition of this
/// rule: [`WallTime::settle_year`] and the log scanner's prefix reader both use it.
pub fn year_of_yearless(
    reference: NaiveDateTime,
    month: u32,
    day: u32,
    time_of_day: Duration,
) -> Option<i32> {
    let latest = reference + Duration::days(1);
    let year = reference.year();
    [year + 1, year, year - 1].into_iter().find(|&y| {
        NaiveDate::from_ymd_opt(y, month, day)
            .is_some_and(|d| d.and_time(NaiveTime::MIN) + time_of_day <= latest)
    })
}

/// The clock reading of `s`, in the first form that reads it whole.
fn clock_of(s: &str) -> Option<Clock> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(dated_with_zone(t));
    }
    // journalctl -o short-iso: "+0000" without a colon.
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(dated_with_zone(t));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Clock::Dated { at, offset: None });
        }
    }
    yearless(s)
}

fn dated_with_zone(t: DateTime<FixedOffset>) -> Clock {
    Clock::Dated {
        at: t.naive_local(),
        offset: Some(*t.offset()),
    }
}

/// "Nov 22 03:12:01", "Nov  2 03:12:01.123456" (day space-padded, as syslog writes it).
fn yearless(s: &str) -> Option<Clock> {
    let mut words = s.split_whitespace();
    let month = month_number(words.next()?)?;
    let day: u32 = words.next()?.parse().ok()?;
    let time = NaiveTime::parse_from_str(words.next()?, "%H:%M:%S%.f").ok()?;
    if words.next().is_some() {
        return None;
    }
    // A leap year, so that Feb 29 is a date here; the year is chosen on settling.
    NaiveDate::from_ymd_opt(2000, month, day)?;
    Some(Clock::Yearless { month, day, time })
}

impl super::Facts {
    /// Gives every year-less time (journalctl's short form, read with `--journal` or
    /// from an older snapshot) the year of `collected_at`, in badgw's zone, where
    /// journalctl printed it. Called where facts are made: at the end of gathering and
    /// when a snapshot is read. Without `collected_at` they stay without a time.
    pub fn settle_years(&mut self) {
        let Some(now) = self.collected_at.map(|c| c.naive_local()) else {
            return;
        };
        if let super::Fact::Collected { value } = &mut self.systemd {
            for e in value.iter_mut().flat_map(|u| u.journal.iter_mut()) {
                e.time.settle_year(now);
            }
        }
    }
}

/// Month abbreviation to number (syslog, dmesg -T, journal short).
pub(crate) fn month_number(m: &str) -> Option<u32> {
    const M: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    M.iter().position(|x| *x == m).map(|i| i as u32 + 1)
}

impl std::str::FromStr for WallTime {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WallTime::parse(s)
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for WallTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for WallTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        WallTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, ISO).unwrap()
    }

    /// Every recorded form reads to the same clock and writes back byte for byte.
    #[test]
    fn every_recorded_form_round_trips() {
        let cases = [
            ("2026-11-22T03:12:01", "2026-11-22T03:12:01", None),
            ("2026/11/22 03:12:01", "2026-11-22T03:12:01", None),
            ("2026-11-22 03:12:01", "2026-11-22T03:12:01", None),
            ("2026-11-22T03:12:01.250", "2026-11-22T03:12:01", None),
            ("2026-11-22T03:12:01+00:00", "2026-11-22T03:12:01", Some(0)),
            (
                "2026-11-22T03:12:01-05:00",
                "2026-11-22T03:12:01",
                Some(-5 * 3600),
            ),
            (
                "2026-11-22T23:57:06.778039+00:00",
                "2026-11-22T23:57:06",
                Some(0),
            ),
            ("2026-11-22T03:12:01Z", "2026-11-22T03:12:01", Some(0)),
            ("2026-11-22T03:10:02+0000", "2026-11-22T03:10:02", Some(0)),
            (
                "2026-11-22T03:10:02+0530",
                "2026-11-22T03:10:02",
                Some(19800),
            ),
        ];
        for (text, wall, offset) in cases {
            let t = WallTime::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                t.at().map(|a| a.format(ISO).to_string()).as_deref(),
                Some(wall),
                "{text}"
            );
            assert_eq!(t.offset().map(|o| o.local_minus_utc()), offset, "{text}");
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, serde_json::to_string(text).unwrap());
            let back: WallTime = serde_json::from_str(&json).unwrap();
            assert_eq!(back, t);
            assert_eq!(back.to_string(), text);
        }
        // Fractions compare: the clock keeps them.
        assert!(
            WallTime::parse("2026-11-22T03:12:01.250").unwrap().at()
                > WallTime::parse("2026-11-22T03:12:01").unwrap().at()
        );
    }

    #[test]
    fn normalised_times_write_iso() {
        let t = WallTime::naive(at("2026-11-23T00:22:17"));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-23T00:22:17\""
        );
        assert_eq!(WallTime::parse("2026-11-23T00:22:17").unwrap(), t);
    }

    #[test]
    fn short_form_takes_the_collection_year() {
        for text in [
            "Nov 22 03:11:58",
            "Nov  2 03:11:58",
            "Nov 22 03:11:58.123456",
        ] {
            let mut t = WallTime::parse(text).unwrap();
            assert_eq!(t.at(), None, "no year yet: {text}");
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("{text:?}"));
            t.settle_year(at("2026-11-30T23:35:00"));
            assert_eq!(t.at().unwrap().year(), 2026, "{text}");
            assert_eq!(t.to_string(), text, "settling keeps the text");
        }
        let mut t = WallTime::parse("Nov 22 03:11:58").unwrap();
        t.settle_year(at("2026-11-30T00:00:00"));
        assert_eq!(t.at(), Some(at("2026-11-22T03:11:58")));
    }

    #[test]
    fn short_form_across_new_year_is_last_years() {
        let mut t = WallTime::parse("Dec 31 23:59:58").unwrap();
        t.settle_year(at("2027-01-01T00:00:03"));
        assert_eq!(t.at(), Some(at("2026-12-31T23:59:58")));
        // A clock a little ahead of the collector's (under a day) stays this year…
        let mut t = WallTime::parse("Jan  1 00:00:05").unwrap();
        t.settle_year(at("2027-01-01T00:00:03"));
        assert_eq!(t.at(), Some(at("2027-01-01T00:00:05")));
        // …or is next year's when it is already past midnight there.
        let mut t = WallTime::parse("Jan  1 00:00:03").unwrap();
        t.settle_year(at("2026-12-31T23:59:59"));
        assert_eq!(t.at(), Some(at("2027-01-01T00:00:03")));
        // Anything more than a day ahead is last year's, not a future date.
        let mut t = WallTime::parse("Dec  5 10:00:00").unwrap();
        t.settle_year(at("2026-12-01T10:00:00"));
        assert_eq!(t.at(), Some(at("2025-12-05T10:00:00")));
        // Feb 29 read in a year that has none is the last leap year's only if that is
        // the year before; otherwise it stays unsettled rather than guessed.
        let mut t = WallTime::parse("Feb 29 12:00:00").unwrap();
        t.settle_year(at("2030-03-01T00:00:00"));
        assert_eq!(t.at(), None);
        t.settle_year(at("2029-03-01T00:00:00"));
        assert_eq!(t.at(), Some(at("2028-02-29T12:00:00")));
        // Settling a dated time changes nothing.
        let mut t = WallTime::parse("2025-12-31T23:59:58").unwrap();
        t.settle_year(at("2027-01-01T00:00:00"));
        assert_eq!(t.at(), Some(at("2025-12-31T23:59:58")));
    }

    #[test]
    fn utc_offsets_keep_their_json_form() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct W {
            #[serde(default, with = "super::offset_opt")]
            o: Option<FixedOffset>,
        }
        for text in [
            r#"{"o":"+00:00"}"#,
            r#"{"o":"-05:00"}"#,
            r#"{"o":"+05:30"}"#,
            r#"{"o":null}"#,
        ] {
            let w: W = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&w).unwrap(), text);
        }
        let w: W = serde_json::from_str(r#"{"o":"-05:00"}"#).unwrap();
        assert_eq!(w.o.map(|o| o.local_minus_utc()), Some(-5 * 3600));
        let e = serde_json::from_str::<W>(r#"{"o":"EST"}"#).err().unwrap();
        assert!(
            e.to_string().contains("unrecognised UTC offset \"EST\""),
            "{e}"
        );
    }

    /// A snapshot's journal in the short form, read on New Year's morning: the entries
    /// get last year's date once settled, and the snapshot writes back the same text.
    #[test]
    fn snapshot_journal_times_settle_against_collected_at() {
        let entry = |time: &str| {
            serde_json::json!({"time": time, "process": "systemd", "message": "m",
                "kind": "other", "line": 1})
        };
        let unit = serde_json::json!({"status": {"id": "app.service"}, "why": "w",
            "journal": [entry("Dec 31 23:59:58"), entry("2026-12-31T23:59:59+0000")]});
        let mut facts = crate::facts::Facts {
            collected_at: DateTime::parse_from_rfc3339("2027-01-01T00:00:03+00:00").ok(),
            ..Default::default()
        };
        facts.systemd = crate::facts::Fact::collected(vec![
            serde_json::from_value(unit.clone()).expect("a unit with its journal")
        ]);
        facts.settle_years();
        let units = facts.systemd.value().expect("collected");
        let times: Vec<_> = units[0].journal.iter().map(|e| e.time.at()).collect();
        assert_eq!(
            times,
            [
                Some(at("2026-12-31T23:59:58")),
                Some(at("2026-12-31T23:59:59"))
            ]
        );
        let back = serde_json::to_value(&units[0]).unwrap();
        for (b, u) in back["journal"]
            .as_array()
            .unwrap()
            .iter()
            .zip(unit["journal"].as_array().unwrap())
        {
            assert_eq!(b["time"], u["time"]);
        }
    }

    #[test]
    fn garbage_is_an_error_naming_the_text_never_a_panic() {
        for text in [
            "",
            " ",
            "garbage",
            "Nov",
            "Nov 22",
            "Foo 22 03:11:58",
            "Nov 31 03:11:58",
            "Nov 22 25:00:00",
            "Nov 22 03:11:58 extra",
            "2026-13-01T00:00:00",
            "2026/11/22",
            "2026-11-22T03:12",
            "\u{0}\u{7f}\u{1b}[31m",
            "９９９９-11-22T03:12:01",
        ] {
            let e = WallTime::parse(text).unwrap_err();
            assert!(e.to_string().contains(&format!("{text:?}")), "{e}");
        }
        let e = serde_json::from_str::<WallTime>("\"yesterday\"").unwrap_err();
        assert!(
            e.to_string().contains("unrecognised time \"yesterday\""),
            "{e}"
        );
        assert!(serde_json::from_str::<WallTime>("17").is_err());
    }
}

#[cfg(test)]
mod snapshot_tests {
    /// Every time in every shipped snapshot reads as a typed time and is written back as
    /// the same text: `--from` of an older snapshot sees what was recorded.
    #[test]
    fn shipped_snapshots_keep_every_time_text() {
        fn times(v: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let p = format!("{path}.{k}");
                        if let (true, Some(s)) = (
                            matches!(
                                k.as_str(),
                                "time"
                                    | "first_seen"
                                    | "last_seen"
                                    | "since"
                                    | "collected_at"
                                    | "utc_offset"
                            ),
                            v.as_str(),
                        ) {
                            out.push((p.clone(), s.to_string()));
                        }
                        times(v, &p, out);
                    }
                }
                serde_json::Value::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        times(v, &format!("{path}[{i}]"), out);
                    }
                }
                _ => {}
            }
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/snapshots");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("fixtures/snapshots") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let facts: crate::facts::Facts =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let (mut before, mut after) = (Vec::new(), Vec::new());
            times(&serde_json::from_str(&text).unwrap(), "", &mut before);
            times(&serde_json::to_value(&facts).unwrap(), "", &mut after);
            assert_eq!(after, before, "{}", path.display());
            seen += before.len();
        }
        assert!(seen > 20, "only {seen} times in the shipped snapshots");
    }
}
