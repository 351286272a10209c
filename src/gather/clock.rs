//! The clock: the one place badgw asks the host for the time, as the logs' own local,
//! zone-less clock reads it (nginx writes local times without a zone).

use chrono::NaiveDateTime;

use crate::logs::line::LogTime;

/// Now, with the host's UTC offset.
pub fn now() -> chrono::DateTime<chrono::Local> {
    chrono::Local::now()
}

/// Now, in the host's local time.
pub fn now_local() -> NaiveDateTime {
    now().naive_local()
}

/// Now, as a log time (seconds of the local clock since 1970-01-01 00:00:00).
pub fn now_log_time() -> LogTime {
    crate::logs::naive_to_logtime(now_local())
}
