//! Containers without a daemon: the container a process runs in, from its
//! `/proc/PID/cgroup`, and a Docker container's name and Compose labels from
//! `/var/lib/docker/containers/<id>/config.v2.json`.

use crate::facts::ContainerInfo;

/// The container a cgroup file places its process in, if any. Recognised layouts (v1 and
/// v2): `docker-<id>.scope` and `/docker/<id>` (Docker), `libpod-<id>.scope` (Podman;
/// `libpod-conmon-` is the monitor, not the container), `kubepods…pod<uid>…` with
/// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope` or a bare id
/// (Kubernetes).
pub fn from_cgroup(text: &str) -> Option<ContainerInfo> {
    for line in text.lines() {
        // hierarchy-ID:controllers:path
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        if let Some(c) = from_cgroup_path(path) {
            return Some(c);
        }
    }
    None
}

fn from_cgroup_path(path: &str) -> Option<ContainerInfo> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let pod_uid = parts.iter().find_map(|p| pod_uid(p));
    let is_kube = parts.iter().any(|p| p.starts_with("kubepods"));
    for (i, part) in parts.iter().enumerate() {
        let scoped = |prefix: &str| {
            part.strip_prefix(prefix)
                .map(|r| r.strip_suffix(".scope").unwrap_or(r))
                .filter(|id| is_id(id))
        };
        let found = if let Some(id) = scoped("docker-") {
            Some(("docker", id))
        } else if part.starts_with("libpod-conmon-") {
            None
        } else if let Some(id) = scoped("libpod-") {
            Some(("podman", id))
        } else if let Some(id) = scoped("cri-containerd-") {
            Some(("containerd", id))
        } else if let Some(id) = scoped("crio-") {
            Some(("cri-o", id))
        } else if i > 0 && parts[i - 1] == "docker" && is_id(part) {
            Some(("docker", *part))
        } else if is_kube && pod_uid.is_some() && is_id(part) {
            Some(("kubernetes", *part))
        } else {
            None
        };
        if let Some((runtime, id)) = found {
            let runtime = if is_kube { "kubernetes" } else { runtime };
            return Some(ContainerInfo {
                runtime: runtime.to_string(),
                id: id.to_string(),
                pod_uid: pod_uid.clone(),
                ..Default::default()
            });
        }
    }
    None
}

/// `kubepods-burstable-pod0f1e…_4b5a….slice` or `pod0f1e…-4b5a…` → the pod UID with dashes.
fn pod_uid(part: &str) -> Option<String> {
    let p = part.strip_suffix(".slice").unwrap_or(part);
    let at = p.rfind("pod")?;
    let uid = p[at + 3..].replace('_', "-");
    (uid.len() == 36 && uid.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(uid)
}

/// A 64-hex container id (Docker, containerd, cri-o, Podman all use them).
fn is_id(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Fills name, Compose labels, restart count, state and aliases from Docker's
/// `config.v2.json`. Errors name what was wrong with the file.
pub fn apply_docker_config(c: &mut ContainerInfo, json: &[u8]) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("config.v2.json: {e}"))?;
    if let Some(n) = v["Name"].as_str() {
        c.name = Some(n.trim_start_matches('/').to_string());
    }
    let labels = &v["Config"]["Labels"];
    c.compose_project = labels["com.docker.compose.project"]
        .as_str()
        .map(str::to_string);
    c.compose_service = labels["com.docker.compose.service"]
        .as_str()
        .map(str::to_string);
    c.restart_count = v["RestartCount"].as_u64();
    c.running = v["State"]["Running"].as_bool();
    if let Some(nets) = v["NetworkSettings"]["Networks"].as_object() {
        for net in nets.values() {
            for a in net["Aliases"].as_array().into_iter().flatten() {
                if let Some(a) = a.as_str() {
                    if !c.aliases.iter().any(|x| x == a) {
                        c.aliases.push(a.to_string());
                    }
                }
            }
        }
    }
    if let Some(svc) = c.compose_service.clone() {
        if !c.aliases.contains(&svc) {
            c.aliases.push(svc);
        }
    }
    Ok(())
}

/// Commands that act on this container, in its runtime's language: (summary, command) to
/// look at its logs, and to (re)start it.
pub fn commands(c: &ContainerInfo) -> (String, String, String) {
    let short = c.id[..c.id.len().min(12)].to_string();
    let name = c.name.clone().unwrap_or(short);
    match (c.runtime.as_str(), &c.compose_project, &c.compose_service) {
        ("docker", Some(p), Some(s)) => (
            format!("docker compose -p {p} logs --tail 50 {s}"),
            format!("docker compose -p {p} up -d {s}"),
            format!("start the Compose service {s} of project {p} again"),
        ),
        ("docker", _, _) => (
            format!("docker logs --tail 50 {name}"),
            format!("docker restart {name}"),
            format!("restart the container {name}"),
        ),
        ("podman", _, _) => (
            format!("podman logs --tail 50 {name}"),
            format!("podman restart {name}"),
            format!("restart the container {name}"),
        ),
        ("kubernetes", _, _) => {
            let uid = c.pod_uid.clone().unwrap_or_default();
            let find = format!(
                "kubectl get pods -A -o jsonpath='{{range .items[?(@.metadata.uid==\"{uid}\")]}}{{.metadata.namespace}} {{.metadata.name}}{{\"\\n\"}}{{end}}'"
            );
            (
                format!("{find}   # then: kubectl logs -n NAMESPACE POD --previous"),
                "kubectl rollout restart -n NAMESPACE deployment/DEPLOYMENT".to_string(),
                "restart the pod's workload (find its namespace and owner with the first command)"
                    .to_string(),
            )
        }
        _ => (
            format!("sudo crictl logs --tail 50 {name}"),
            format!("sudo crictl stop {name}   # its runtime or orchestrator starts it again"),
            format!("restart the container {name}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/fixtures/host/containers/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    const DOCKER_ID: &str = "3f4e8a1c2b7d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081";

    #[test]
    fn docker_both_drivers() {
        for f in ["cgroup-docker-systemd-v2", "cgroup-docker-cgroupfs-v1"] {
            let c = from_cgroup(&fixture(f)).unwrap_or_else(|| panic!("{f}"));
            assert_eq!(c.runtime, "docker", "{f}");
            assert_eq!(c.id, DOCKER_ID, "{f}");
            assert_eq!(c.pod_uid, None);
        }
    }

    #[test]
    fn podman_rootless_and_kubernetes() {
        let p = from_cgroup(&fixture("cgroup-podman-rootless")).unwrap();
        assert_eq!(p.runtime, "podman");
        assert!(p.id.starts_with("9b1c2d3e"));
        let k = from_cgroup(&fixture("cgroup-k8s-containerd")).unwrap();
        assert_eq!(k.runtime, "kubernetes");
        assert!(k.id.starts_with("7a6b5c4d"));
        assert_eq!(
            k.pod_uid.as_deref(),
            Some("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
        );
    }

    #[test]
    fn host_processes_and_conmon_are_not_containers() {
        assert_eq!(from_cgroup(&fixture("cgroup-host-service")), None);
        assert_eq!(from_cgroup("0::/\n"), None);
        let conmon = format!("0::/machine.slice/libpod-conmon-{DOCKER_ID}.scope\n");
        assert_eq!(from_cgroup(&conmon), None);
        assert_eq!(from_cgroup("garbage\n\n::\n"), None);
    }

    #[test]
    fn docker_config_gives_name_compose_labels_and_restarts() {
        let mut c = from_cgroup(&fixture("cgroup-docker-systemd-v2")).unwrap();
        apply_docker_config(&mut c, fixture("config.v2.json").as_bytes()).unwrap();
        assert_eq!(c.name.as_deref(), Some("shop-app-1"));
        assert_eq!(c.compose_project.as_deref(), Some("shop"));
        assert_eq!(c.compose_service.as_deref(), Some("app"));
        assert_eq!(c.restart_count, Some(4));
        assert_eq!(c.running, Some(false));
        assert!(c.aliases.contains(&"app".to_string()));
        let (logs, start, _) = commands(&c);
        assert_eq!(start, "docker compose -p shop up -d app");
        assert_eq!(logs, "docker compose -p shop logs --tail 50 app");
        assert!(apply_docker_config(&mut c, b"{not json").is_err());
    }

    #[test]
    fn commands_per_runtime() {
        let plain = ContainerInfo {
            runtime: "docker".into(),
            id: DOCKER_ID.into(),
            name: Some("api".into()),
            ..Default::default()
        };
        assert_eq!(commands(&plain).1, "docker restart api");
        let k = from_cgroup(&fixture("cgroup-k8s-containerd")).unwrap();
        let (find, restart, _) = commands(&k);
        assert!(
            find.contains("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"),
            "{find}"
        );
        assert!(restart.starts_with("kubectl rollout restart"));
    }
}
