//! nginx's value syntaxes: times (`1m30s`, `500ms`), sizes (`4k`, `1m`), `listen` arguments.

use std::net::IpAddr;

/// `60s`, `1m`, `500ms`, `1h30m`, `10` (seconds) → seconds.
pub fn parse_time(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            'h' => 3600.0,
            'd' => 86400.0,
            'w' => 604800.0,
            'M' => 2_592_000.0,
            'y' => 31_536_000.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    if !num.is_empty() {
        total += num.parse::<f64>().ok()?;
        any = true;
    }
    any.then_some(total)
}

/// `4k`, `8K`, `1m`, `512` → bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1024),
        'm' | 'M' => (&s[..s.len() - 1], 1024 * 1024),
        'g' | 'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

/// One `listen` directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Listen {
    /// None: every address (`80`, `*:80`, `[::]:80` count as wildcard of their family).
    pub ip: Option<IpAddr>,
    pub port: u16,
    pub unix: Option<String>,
    pub default_server: bool,
    pub ssl: bool,
    /// The normalized address, e.g. "0.0.0.0:80", "127.0.0.1:8080", "[::]:443", "unix:/x".
    pub address: String,
}

pub fn parse_listen(args: &[String]) -> Option<Listen> {
    let first = args.first()?;
    let flags = &args[1..];
    let default_server = flags
        .iter()
        .any(|f| f == "default_server" || f == "default");
    let ssl = flags.iter().any(|f| f == "ssl");
    if let Some(path) = first.strip_prefix("unix:") {
        return Some(Listen {
            ip: None,
            port: 0,
            unix: Some(path.to_string()),
            default_server,
            ssl,
            address: first.clone(),
        });
    }
    let (ip, port): (Option<IpAddr>, u16) = if let Some(rest) = first.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let ip: IpAddr = host.parse().ok()?;
        let port = after
            .strip_prefix(':')
            .map(|p| p.parse().ok())
            .unwrap_or(Some(80))?;
        (Some(ip), port)
    } else if let Ok(port) = first.parse::<u16>() {
        (None, port)
    } else {
        let (host, port) = match first.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (first.as_str(), 80),
        };
        let ip = match host {
            "*" => None,
            "localhost" => Some(IpAddr::from([127, 0, 0, 1])),
            h => Some(h.parse().ok()?),
        };
        (ip, port)
    };
    let address = match ip {
        None => format!("0.0.0.0:{port}"),
        Some(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
        Some(IpAddr::V4(v4)) => format!("{v4}:{port}"),
    };
    Some(Listen {
        ip: ip.filter(|i| !i.is_unspecified()),
        port,
        unix: None,
        default_server,
        ssl,
        address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes() {
        assert_eq!(parse_time("60s"), Some(60.0));
        assert_eq!(parse_time("1m30s"), Some(90.0));
        assert_eq!(parse_time("500ms"), Some(0.5));
        assert_eq!(parse_time("75"), Some(75.0));
        assert_eq!(parse_time("1h"), Some(3600.0));
        assert_eq!(parse_time("x"), None);
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("k"), None);
    }

    #[test]
    fn listen_forms() {
        let l =
            |s: &str| parse_listen(&s.split(' ').map(String::from).collect::<Vec<_>>()).unwrap();
        assert_eq!(l("80").address, "0.0.0.0:80");
        assert_eq!(l("*:8080").port, 8080);
        let x = l("127.0.0.1:8080 default_server");
        assert!(x.default_server);
        assert_eq!(x.ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(l("[::]:443 ssl").address, "[::]:443");
        assert_eq!(l("[::]:443 ssl").ip, None);
        assert_eq!(l("[::1]:81").ip, Some("::1".parse().unwrap()));
        assert_eq!(l("unix:/run/x.sock").unix.as_deref(), Some("/run/x.sock"));
        assert_eq!(l("localhost").port, 80);
    }
}
