//! Sound values for limits, with the reasoning shown.
//!
//! `pm.max_children`: how many PHP-FPM children fit in memory, from what a child needs at
//! its peak (`VmHWM`, the high-water mark of its resident size — idle children are far
//! smaller than busy ones), what is available (`MemAvailable` plus what the pool's children
//! hold now), minus a headroom for the rest of the host. The result is capped: never more
//! than [`MAX_STEP`] times the current value in one change, because every child is also a
//! database connection and a CPU contender; raise again after watching the pool.

/// A raise is capped at this many times the current value.
pub const MAX_STEP: u32 = 4;
/// Headroom kept for the rest of the host: this share of MemTotal (at least 256 MiB).
pub const HEADROOM_PERCENT: u64 = 10;

/// A computed `pm.max_children` with the formula that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxChildren {
    pub value: u32,
    /// What memory alone would allow.
    pub by_memory: u32,
    /// e.g. "(MemAvailable 2900 MiB + pool children 300 MiB − headroom 400 MiB) ÷ peak 62 MiB/child (VmHWM) = 45; capped at 4 × 5 = 20".
    pub formula: String,
}

fn mib(kb: u64) -> u64 {
    kb / 1024
}

/// `pm.max_children` for a pool whose children use `rss_kb` now and peaked at `hwm_kb`
/// (when known), on a host with `mem_available_kb` and `mem_total_kb`.
pub fn max_children(
    current: u32,
    rss_kb: &[u64],
    hwm_kb: &[u64],
    mem_available_kb: u64,
    mem_total_kb: Option<u64>,
) -> Option<MaxChildren> {
    let (per_child, what) = match hwm_kb.iter().max() {
        Some(&h) if h > 0 => (h, "peak per child (VmHWM)"),
        _ => (
            *rss_kb.iter().max()?,
            "largest child now (VmRSS; no peak known)",
        ),
    };
    if per_child == 0 {
        return None;
    }
    let held: u64 = rss_kb.iter().sum();
    let headroom = mem_total_kb
        .map(|t| t * HEADROOM_PERCENT / 100)
        .unwrap_or(0)
        .max(256 * 1024);
    let budget = (mem_available_kb + held).saturating_sub(headroom);
    let by_memory = u32::try_from(budget / per_child).unwrap_or(u32::MAX);
    let cap = current.max(1).saturating_mul(MAX_STEP);
    let value = by_memory.min(cap);
    let mut formula = format!(
        "(MemAvailable {} MiB + pool's {} children {} MiB − headroom {} MiB) ÷ {what} {} MiB = {by_memory}",
        mib(mem_available_kb),
        rss_kb.len(),
        mib(held),
        mib(headroom),
        mib(per_child).max(1)
    );
    if by_memory > cap {
        formula.push_str(&format!(
            "; capped at {MAX_STEP} × current {current} = {cap} (each child is also a database connection: raise in steps)"
        ));
    }
    Some(MaxChildren {
        value,
        by_memory,
        formula,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The case: pm.max_children = 1 and idle children of 12 MiB must not become
    /// 1686; the peak decides and the step cap holds.
    #[test]
    fn idle_children_do_not_inflate_the_limit() {
        let gib = 1024 * 1024;
        let m = max_children(1, &[12 * 1024], &[180 * 1024], 20 * gib, Some(24 * gib)).unwrap();
        assert_eq!(m.value, 4, "{m:?}");
        assert!(m.by_memory < 200, "{m:?}");
        assert!(
            m.formula.contains("VmHWM") && m.formula.contains("capped at 4"),
            "{}",
            m.formula
        );
    }

    #[test]
    fn memory_bound_below_the_cap() {
        let m = max_children(
            10,
            &[100 * 1024; 10],
            &[200 * 1024; 10],
            1024 * 1024,
            Some(4 * 1024 * 1024),
        )
        .unwrap();
        // (1024 + 1000 − 409) MiB ÷ 200 MiB = 8
        assert_eq!((m.value, m.by_memory), (8, 8), "{}", m.formula);
        assert!(!m.formula.contains("capped"));
    }

    #[test]
    fn without_peaks_the_largest_child_is_used() {
        let m = max_children(5, &[50 * 1024, 80 * 1024], &[], 2 * 1024 * 1024, None).unwrap();
        assert!(m.formula.contains("largest child now"), "{}", m.formula);
    }
}
