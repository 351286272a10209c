//! `pm2 jlist` parser: the JSON array PM2 prints, reduced to [`Pm2App`].
//!
//! Pure. PM2 copies the whole environment into `pm2_env`; only PORT-like variables are kept,
//! never other values (they may hold secrets). Missing or mistyped fields become None.

use serde_json::Value;

use super::systemd::is_port_like;
use crate::facts::Pm2App;

/// The evidence source of PM2 facts: the command they are read from.
pub const SOURCE: &str = "pm2 jlist";

/// Parses `pm2 jlist` output. PM2 may print warnings before the JSON; they are skipped.
pub fn parse_pm2_jlist(input: &[u8]) -> Result<Vec<Pm2App>, String> {
    let text = String::from_utf8_lossy(input);
    let start = text
        .find("[{")
        .or_else(|| text.find("[]"))
        .or_else(|| text.find('['))
        .ok_or_else(|| "no JSON array in pm2 jlist output".to_string())?;
    let json = text.get(start..).unwrap_or("");
    let mut de = serde_json::Deserializer::from_str(json);
    let v: Value =
        serde::Deserialize::deserialize(&mut de).map_err(|e| format!("pm2 jlist: {e}"))?;
    let arr = v.as_array().ok_or("pm2 jlist: not an array")?;
    Ok(arr.iter().filter_map(app).collect())
}

fn app(v: &Value) -> Option<Pm2App> {
    let env = v.get("pm2_env")?;
    let s = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |o: &Value, k: &str| o.get(k).and_then(Value::as_u64);
    let mut ports = Vec::new();
    for src in [env.get("env"), Some(env)].into_iter().flatten() {
        if let Some(obj) = src.as_object() {
            for (k, val) in obj {
                if is_port_like(k) {
                    let val = match val {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => continue,
                    };
                    let kv = format!("{k}={val}");
                    if !ports.contains(&kv) {
                        ports.push(kv);
                    }
                }
            }
        }
    }
    let node_args: Vec<String> = match env.get("node_args") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let max_old_space_mb = node_args
        .iter()
        .find_map(|a| a.strip_prefix("--max-old-space-size="))
        .and_then(|v| v.parse().ok());
    let max_memory_restart = match env.get("max_memory_restart") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => parse_size(s),
        _ => None,
    };
    Some(Pm2App {
        name: s(v, "name").or_else(|| s(env, "name"))?,
        pm_id: n(v, "pm_id").or_else(|| n(env, "pm_id")).unwrap_or(0) as u32,
        pid: n(v, "pid").filter(|p| *p != 0).map(|p| p as u32),
        status: s(env, "status").unwrap_or_default(),
        restart_time: n(env, "restart_time").unwrap_or(0) as u32,
        unstable_restarts: n(env, "unstable_restarts").unwrap_or(0) as u32,
        pm_uptime_ms: env.get("pm_uptime").and_then(Value::as_i64),
        exec_mode: s(env, "exec_mode"),
        script: s(env, "pm_exec_path"),
        err_log: s(env, "pm_err_log_path"),
        out_log: s(env, "pm_out_log_path"),
        env_ports: ports,
        max_memory_restart,
        max_old_space_mb,
        memory_bytes: v.get("monit").and_then(|m| n(m, "memory")),
        cpu_percent: v
            .get("monit")
            .and_then(|m| m.get("cpu"))
            .and_then(Value::as_f64),
        pm2_home: s(env, "PM2_HOME").or_else(|| env.get("env").and_then(|e| s(e, "PM2_HOME"))),
    })
}

/// "300M", "1G", "512K", "1048576" → bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1024u64),
        'M' | 'm' => (&s[..s.len() - 1], 1024 * 1024),
        'G' | 'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_jlist_from_pm2_7() {
        let apps =
            parse_pm2_jlist(include_bytes!("../../fixtures/host/pm2-jlist.json")).expect("parses");
        assert_eq!(apps.len(), 2);
        let api = &apps[0];
        assert_eq!(api.name, "api");
        assert_eq!(api.pm_id, 0);
        assert_eq!(api.pid, Some(8197));
        assert_eq!(api.status, "online");
        assert_eq!(api.restart_time, 0);
        assert_eq!(api.env_ports, vec!["PORT=3017".to_string()]);
        assert_eq!(api.max_memory_restart, Some(314_572_800));
        assert_eq!(api.max_old_space_mb, Some(256));
        assert_eq!(api.exec_mode.as_deref(), Some("fork_mode"));
        assert_eq!(
            api.err_log.as_deref(),
            Some("/tmp/pm2rec/.pm2/logs/api-error.log")
        );
        assert_eq!(api.memory_bytes, Some(53_972_992));
        let w = &apps[1];
        assert_eq!(w.name, "worker");
        assert_eq!(w.status, "errored");
        assert_eq!(w.pid, None);
        assert_eq!(w.restart_time, 15);
        assert_eq!(w.unstable_restarts, 0);
        assert_eq!(w.env_ports, vec!["PORT=3018".to_string()]);
    }

    #[test]
    fn warnings_before_json_and_garbage() {
        let with_banner = b">>>> In-memory PM2 is out-of-date, do:\n>>>> $ pm2 update\n[{\"pid\":0,\"name\":\"a\",\"pm_id\":3,\"pm2_env\":{\"status\":\"stopped\",\"restart_time\":2,\"unstable_restarts\":0}}]";
        let apps = parse_pm2_jlist(with_banner).expect("parses");
        assert_eq!(apps[0].pm_id, 3);
        assert_eq!(apps[0].status, "stopped");
        assert!(parse_pm2_jlist(b"not json").is_err());
        assert!(parse_pm2_jlist(b"[{\"pid\":").is_err());
        assert_eq!(parse_size("300M"), Some(314_572_800));
        assert_eq!(parse_size("x"), None);
    }
}
