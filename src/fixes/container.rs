//! Commands for an nginx that runs in a container: test and reload it through its runtime
//! (compose service, podman, docker; kubectl for a pod, whose names badgw does not know).

use crate::facts::ContainerInfo;

/// `nginx -t` then a reload, the container's way.
pub fn nginx_reload(c: &ContainerInfo) -> String {
    let name = c
        .name
        .clone()
        .unwrap_or_else(|| c.id[..c.id.len().min(12)].into());
    match (c.runtime.as_str(), &c.compose_project, &c.compose_service) {
        ("docker", Some(p), Some(s)) => format!(
            "docker compose -p {p} exec {s} nginx -t && docker compose -p {p} exec {s} nginx -s reload"
        ),
        ("podman", _, _) => format!("podman exec {name} nginx -t && podman kill -s HUP {name}"),
        ("kubernetes", _, _) => {
            "kubectl exec -n NAMESPACE POD -c CONTAINER -- nginx -s reload".into()
        }
        _ => format!("docker exec {name} nginx -t && docker kill -s HUP {name}"),
    }
}
