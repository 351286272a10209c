//! The one ordered list of checks. Order is the pipeline order and the order of the rows
//! in the report's checks table: configuration first, then the host, then the wire.

use super::error_log_causes::ErrorLogCauses;
use super::*;

pub const CHECKS: &[&dyn Check] = &[
    &Route,
    &PortBound,
    &SocketExists,
    &AddressFamily,
    &ListenerMatchesConfig,
    &Protocol,
    &UpstreamTlsCertificate,
    &UpstreamResponse,
    &ConnectTimeout,
    &KeepaliveAlignment,
    &TimeoutAlignment,
    &SocketPermission,
    &SelinuxDenied,
    &OomKilled,
    &CrashLoop,
    &PoolExhausted,
    &FdExhaustion,
    &AccessLogOrigin,
    &WebsocketUpgrade,
    &StaleResolution,
    &LbKeepaliveRace,
    &HealthCheckPath,
    &ErrorLogCauses,
];
