//! Which container a process runs in, and which container should serve an upstream: from
//! /proc/PID/cgroup and Docker's state files (no daemon needed), or the runtime's CLI
//! (`docker`/`podman inspect`) when it is on PATH and answers within the timeout.

use std::path::Path;
use std::time::Duration;

use crate::facts::ContainerInfo;
use crate::parse::container::{apply_docker_config, from_cgroup};

/// Where Docker keeps its containers' state.
pub const DOCKER_ROOT: &str = "/var/lib/docker/containers";

/// The container `pid` runs in, named where possible.
pub fn identify(proc_root: &Path, pid: u32, timeout: Duration) -> Option<ContainerInfo> {
    let cg = proc_root.join(pid.to_string()).join("cgroup");
    let text = std::fs::read_to_string(&cg).ok()?;
    let mut c = from_cgroup(&text)?;
    c.source = cg.display().to_string();
    name_it(&mut c, Path::new(DOCKER_ROOT), timeout);
    Some(c)
}

/// Adds name and labels: Docker's config.v2.json when readable, else the runtime's CLI.
fn name_it(c: &mut ContainerInfo, docker_root: &Path, timeout: Duration) {
    let cfg = docker_root.join(&c.id).join("config.v2.json");
    if let Ok(bytes) = std::fs::read(&cfg) {
        if apply_docker_config(c, &bytes).is_ok() {
            c.source.push_str(&format!(", {}", cfg.display()));
            return;
        }
    }
    let cli = match c.runtime.as_str() {
        "podman" => "podman",
        _ => "docker",
    };
    if which::which(cli).is_err() {
        return;
    }
    let Ok(out) =
        super::command::run_command(cli, &["inspect", "--format", "{{json .}}", &c.id], timeout)
    else {
        return;
    };
    if apply_docker_config(c, &out.stdout).is_ok() {
        c.source.push_str(&format!(", `{cli} inspect`"));
    }
}

/// A Docker container (running or not) that answers to `name` — its Compose service or a
/// network alias — preferring Compose project `project` (nginx's own).
pub fn by_name(docker_root: &Path, name: &str, project: Option<&str>) -> Option<ContainerInfo> {
    let mut best: Option<ContainerInfo> = None;
    for e in std::fs::read_dir(docker_root).ok()?.flatten() {
        let cfg = e.path().join("config.v2.json");
        let Ok(bytes) = std::fs::read(&cfg) else {
            continue;
        };
        let mut c = ContainerInfo {
            runtime: "docker".into(),
            id: e.file_name().to_string_lossy().into_owned(),
            source: cfg.display().to_string(),
            ..Default::default()
        };
        if apply_docker_config(&mut c, &bytes).is_err() || !c.aliases.iter().any(|a| a == name) {
            continue;
        }
        let same_project = project.is_some() && c.compose_project.as_deref() == project;
        if same_project || best.is_none() {
            best = Some(c);
            if same_project {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_compose_service_is_found_by_its_alias() {
        let dir = tempfile::tempdir().unwrap();
        let id = "3f4e8a1c2b7d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081";
        std::fs::create_dir_all(dir.path().join(id)).unwrap();
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fixtures/host/containers/config.v2.json"
            ),
            dir.path().join(id).join("config.v2.json"),
        )
        .unwrap();
        let c = by_name(dir.path(), "app", Some("shop")).expect("found by alias");
        assert_eq!(c.name.as_deref(), Some("shop-app-1"));
        assert_eq!(c.running, Some(false));
        assert!(by_name(dir.path(), "db", None).is_none());
    }
}
