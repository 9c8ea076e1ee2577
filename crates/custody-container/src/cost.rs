//! Counted work, for cost-regression tests.
//!
//! With the `cost-counters` feature, the parsers' inner loops (a transport
//! or program stream packet, a box, a sample, a byte pushed to a framer or
//! hashed) add to a per-thread step count that a test reads before and
//! after an operation: cost measured in work, not seconds. Without the
//! feature [`step`] does nothing and [`steps`] is always 0.

#[cfg(feature = "cost-counters")]
thread_local! {
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Adds `n` steps of work on this thread.
#[inline(always)]
pub fn step(n: u64) {
    #[cfg(feature = "cost-counters")]
    STEPS.with(|s| s.set(s.get().wrapping_add(n)));
    #[cfg(not(feature = "cost-counters"))]
    let _ = n;
}

/// Steps of work counted on this thread so far (0 without `cost-counters`).
pub fn steps() -> u64 {
    #[cfg(feature = "cost-counters")]
    return STEPS.with(|s| s.get());
    #[cfg(not(feature = "cost-counters"))]
    0
}

/// True when work is counted (the `cost-counters` feature).
pub const ENABLED: bool = cfg!(feature = "cost-counters");
