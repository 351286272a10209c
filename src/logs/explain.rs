//! What each error-log category means and what to type about it: the text behind
//! `explain-log`'s summary. Pure data; commands are read-only unless they say otherwise.

use serde::Serialize;

use super::line::Category;

/// One thing to do about a category: a command to type, or advice in words. The renderer
/// marks them apart (`$` for a command, `→` for advice); the JSON keeps both as the
/// plain string (docs/json.md: `fixes` are strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFix {
    /// A command line (read-only unless its comment says otherwise).
    Run(&'static str),
    /// What to change, in words.
    Advice(&'static str),
}

impl LogFix {
    pub fn text(self) -> &'static str {
        match self {
            LogFix::Run(t) | LogFix::Advice(t) => t,
        }
    }

    pub fn is_command(self) -> bool {
        matches!(self, LogFix::Run(_))
    }
}

impl Serialize for LogFix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text())
    }
}

/// A paragraph saying what happened and why nginx answered with the implied status.
pub fn explanation(c: Category) -> &'static str {
    use Category::*;
    match c {
        UpstreamRefused => "nginx reached the upstream host but nothing accepted the connection on that port (errno ECONNREFUSED: 111 on Linux, 10061 on Windows): the app is not running, is restarting, or listens on another port or address family.",
        SocketMissing => "the unix socket nginx connects to does not exist (errno 2): the app (php-fpm, gunicorn, puma…) is stopped, or creates its socket at another path.",
        SocketPermission => "the unix socket exists but nginx's worker user may not connect to it (errno 13): the socket's owner, group or mode excludes that user.",
        PermissionDeniedTcp => "a TCP connect() was denied with errno 13: on SELinux hosts the httpd_can_network_connect boolean is off, or a local firewall/LSM blocks nginx.",
        BacklogFull => "connect() failed with EAGAIN (errno 11) on a unix socket: the app's listen backlog is full because all its workers are busy.",
        EphemeralPorts => "connect() failed with EADDRNOTAVAIL (errno 99): nginx ran out of local ports for new upstream connections (too many in TIME_WAIT, no keepalive to the upstream).",
        FdExhaustion => "nginx could not open a socket (errno 24, or worker_connections are not enough): the worker ran out of file descriptors or connection slots.",
        NoRoute => "the upstream address is unreachable (errno 113 no route to host / 101 network unreachable): wrong IP, host down, or a firewall rejecting.",
        ConnectTimeout => "the TCP handshake with the upstream did not finish within proxy_connect_timeout: the host is down or a firewall drops packets. nginx answers 504.",
        ReadTimeout => "the upstream accepted the request but sent no (complete) response within proxy_read_timeout: the app is slow or stuck. nginx answers 504.",
        PrematureClose => "the upstream closed the connection before sending a complete response: the app crashed, was killed mid-request, or closed an idle keep-alive connection nginx reused.",
        ConnectionReset => "the upstream reset the connection (errno 104): the app crashed or was restarted, or it closed a keep-alive connection just as nginx reused it (keepalive race).",
        BrokenPipe => "nginx was still sending the request when the upstream closed the connection (errno 32): the app rejected a large body or crashed.",
        HeaderTooBig => "the upstream's response headers (often big cookies or long redirects) do not fit in proxy_buffer_size / fastcgi_buffer_size.",
        InvalidHeader => "the upstream answered in a different protocol than nginx expects. \"unsupported FastCGI protocol version: 72\" means fastcgi_pass points at an HTTP server (72 is the 'H' of \"HTTP/1.1\"); \"no valid HTTP/1.0 header\" means proxy_pass points at something that is not HTTP (FastCGI, TLS, a database).",
        SslHandshake => "the TLS handshake with the upstream failed. \"wrong version number\" means proxy_pass https:// points at a plain-HTTP port; \"peer closed connection\" often that the upstream wants SNI (proxy_ssl_server_name on). Certificate rejections are ssl-verify.",
        NoLiveUpstreams => "every server of the upstream group is marked failed (max_fails within fail_timeout), so nginx did not even try one: a consequence of the failures listed above it.",
        DnsResolution => "nginx could not resolve the upstream host name: at start-up (host not found in upstream) or at run time with a variable proxy_pass (no resolver defined / could not be resolved).",
        FastcgiScriptUnknown => "php-fpm could not find the script nginx asked for (SCRIPT_FILENAME): a wrong root or fastcgi_param, or php-fpm's chroot/open_basedir. php-fpm answers 404 \"File not found.\"",
        SslVerify => "the TLS handshake with the upstream worked but nginx rejected the upstream's certificate (proxy_ssl_verify on): it is self-signed or from a CA not in proxy_ssl_trusted_certificate, expired, or its names do not match proxy_ssl_name (by default the host in proxy_pass, often an upstream group name). nginx answers 502.",
        OtherUpstream => "another upstream failure nginx logged (a PHP fatal error, an SSL read error, a buffer problem); read the sample lines.",
    }
}

/// Commands that confirm or fix the category (UPSTREAM is the top upstream address).
pub fn fixes(c: Category) -> &'static [LogFix] {
    use Category::*;
    use LogFix::*;
    match c {
        UpstreamRefused => &[
            Run("ss -ltnp   # is anything listening on the upstream port?"),
            Run("systemctl status <app>; journalctl -u <app> -n 50"),
            Run("badgw diagnose --site <host>"),
        ],
        SocketMissing => &[
            Run("ls -l <socket path>"),
            Run("systemctl status php*-fpm <app>   # start it, or fix the socket path in nginx or the app"),
        ],
        SocketPermission => &[
            Run("ls -l <socket path>; ps -o user= -C nginx | sort -u"),
            Advice("set listen.owner/listen.group/listen.mode (php-fpm) or the socket's group to nginx's user, then restart the app"),
        ],
        PermissionDeniedTcp => &[
            Run("getenforce; ausearch -m avc -c nginx --start recent"),
            Run("setsebool -P httpd_can_network_connect 1   # review first"),
        ],
        BacklogFull => &[
            Run("ss -lx | grep <socket>   # Recv-Q vs Send-Q shows the backlog"),
            Advice("raise pm.max_children / workers, or listen.backlog and net.core.somaxconn"),
        ],
        EphemeralPorts => &[
            Run("ss -tan state time-wait | wc -l; sysctl net.ipv4.ip_local_port_range"),
            Advice("add `keepalive 32;` to the upstream block with proxy_http_version 1.1 and proxy_set_header Connection \"\""),
        ],
        FdExhaustion => &[
            Run("cat /proc/$(pgrep -o nginx)/limits | grep 'open files'"),
            Advice("raise worker_rlimit_nofile and worker_connections, then nginx -s reload"),
        ],
        NoRoute => &[
            Run("ip route get <upstream ip>; ping -c1 <upstream ip>"),
            Advice("check the upstream address in the nginx config and firewall rules"),
        ],
        ConnectTimeout => &[
            Run("timeout 5 bash -c '</dev/tcp/<ip>/<port>' && echo open"),
            Advice("check the upstream host is up and the firewall does not drop"),
        ],
        ReadTimeout => &[
            Run("curl -sv -m 120 -o /dev/null http://<upstream><uri>   # how long does the app take?"),
            Advice("fix the slow endpoint, or raise proxy_read_timeout / fastcgi_read_timeout for that location"),
        ],
        PrematureClose => &[
            Run("journalctl -u <app> --since -15min   # crash, OOM kill, worker timeout?"),
            Run("dmesg -T | grep -i -E 'oom|killed process'"),
        ],
        ConnectionReset => &[
            Run("journalctl -u <app> --since -15min"),
            Advice("with upstream keepalive: make the app's keep-alive timeout longer than nginx's keepalive_timeout, or add proxy_next_upstream error"),
        ],
        BrokenPipe => &[
            Run("journalctl -u <app> --since -15min   # did the app reject the body (size limit) or crash?"),
        ],
        HeaderTooBig => &[
            Run("curl -sI http://<upstream><uri> | wc -c   # header size"),
            Advice("raise proxy_buffer_size 16k; proxy_buffers 8 16k; (fastcgi_buffer_size for PHP), then nginx -s reload"),
        ],
        InvalidHeader => &[
            Run("curl -sv http://<upstream>/ ; cgi-fcgi -bind -connect <upstream>   # which protocol answers?"),
            Advice("use proxy_pass for HTTP apps, fastcgi_pass for php-fpm, uwsgi_pass for uWSGI"),
        ],
        SslHandshake => &[
            Run("openssl s_client -connect <upstream> </dev/null   # does it speak TLS?"),
            Advice("use proxy_pass http:// for a plain-HTTP upstream"),
        ],
        NoLiveUpstreams => &[
            Advice("fix the failures above; then nginx -s reload resets max_fails state"),
        ],
        DnsResolution => &[
            Run("getent hosts <name>"),
            Advice("add `resolver 127.0.0.53 valid=30s;` (your DNS server) when proxy_pass uses variables"),
        ],
        FastcgiScriptUnknown => &[
            Run("nginx -T | grep -n -E 'root|SCRIPT_FILENAME'"),
            Advice("fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;"),
        ],
        SslVerify => &[
            Run("openssl s_client -connect <upstream> -servername <name> -showcerts </dev/null | openssl x509 -noout -subject -ext subjectAltName -enddate"),
            Advice("set proxy_ssl_name <name on the certificate>; and proxy_ssl_server_name on; in the location"),
            Advice("set proxy_ssl_trusted_certificate to the CA bundle that signed the upstream's certificate"),
        ],
        OtherUpstream => &[Advice("read the sample lines with --events")],
    }
}
