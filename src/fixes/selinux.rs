//! SELinux commands for nginx's (httpd_t) network connections.

/// Let httpd_t open network connections, persistently.
pub fn allow_network_connect() -> String {
    "sudo setsebool -P httpd_can_network_connect 1".into()
}

/// The recent AVC denials of nginx in the audit log.
pub fn denials() -> String {
    "sudo ausearch -m avc -c nginx --start recent".into()
}

/// Label one TCP port as an http port (narrower than the boolean).
pub fn label_port(port: u16) -> String {
    format!("sudo semanage port -a -t http_port_t -p tcp {port}")
}
