//! Memory and CPU limits for one guest instance.
//!
//! Memory: a [`wasmtime::ResourceLimiter`] that refuses growth past the cap and remembers that it
//! did, so the failure can be named precisely (a refused `memory.grow` otherwise surfaces as an
//! unrelated-looking trap from the guest's allocator).
//!
//! CPU: epoch interruption. A ticker thread advances the engine's epoch every [`TICK`]; the store's
//! deadline callback runs only while wasm executes, so the number of callbacks during one call
//! approximates the CPU time the guest burned in it. Time blocked in host calls (HTTP) does not
//! count; the wall-clock timeout around each call covers that.
//!
//! Host memory: what the component makes the host hold is bounded in [`super::budget`]; as a
//! backstop, the meter also watches the process's resident memory (every [`RSS_EVERY_TICKS`]
//! ticks of guest CPU and after every call) against the component's memory limit plus that
//! budget, above what the host held before the instance started.

use std::time::Duration;

use wasmtime::{ResourceLimiter, Result};

pub const TICK: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory (bytes) the guest may grow to.
    pub memory_bytes: usize,
    /// CPU time the guest may spend inside one call.
    pub cpu_per_call: Duration,
    /// Wall-clock time one call may take, HTTP waits and retries included.
    pub wall_per_call: Duration,
    /// Watch this process's resident memory. Meaningful only when the process runs one instance
    /// at a time (the CLI); an embedder running many relies on the per-instance bounds alone.
    pub watch_host_memory: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            cpu_per_call: Duration::from_secs(60),
            wall_per_call: Duration::from_secs(15 * 60),
            watch_host_memory: false,
        }
    }
}

/// Which limit a guest hit, recorded by the limiter or the epoch callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitHit {
    Memory {
        desired: usize,
        cap: usize,
    },
    Cpu {
        budget: Duration,
    },
    /// The process's resident memory passed the component's limit plus the host's budget.
    HostMemory {
        resident: u64,
        cap: u64,
    },
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Memory { desired, cap } => write!(
                f,
                "memory limit: the component tried to grow its memory to {:.1} MiB; the cap is {} MiB",
                *desired as f64 / (1 << 20) as f64,
                cap >> 20
            ),
            LimitHit::Cpu { budget } => write!(
                f,
                "CPU limit: the component computed for more than {:.1} s in one call",
                budget.as_secs_f64()
            ),
            LimitHit::HostMemory { resident, cap } => write!(
                f,
                "host memory limit: the host grew to {} MiB on the component's behalf; the cap \
                 is {} MiB (the component's memory limit plus the host's budget)",
                resident >> 20,
                cap >> 20
            ),
        }
    }
}

impl std::error::Error for LimitHit {}

/// Ticks of guest CPU between two looks at the process's resident memory (100 ms).
pub const RSS_EVERY_TICKS: u64 = 10;

/// Per-store limiter state.
pub struct Meter {
    limits: Limits,
    ticks_this_call: u64,
    /// Resident bytes the process may reach, when watched: the baseline at instantiation plus
    /// the component's memory limit plus the host's budget for it.
    resident_cap: Option<u64>,
    pub hit: Option<LimitHit>,
}

impl Meter {
    /// `host_budget`: bytes the host may hold on the component's behalf besides its memory.
    pub fn new(limits: Limits, host_budget: u64) -> Self {
        let resident_cap = if limits.watch_host_memory {
            resident_bytes().map(|base| base + limits.memory_bytes as u64 + host_budget)
        } else {
            None
        };
        Meter {
            limits,
            ticks_this_call: 0,
            resident_cap,
            hit: None,
        }
    }

    /// `Err` once the process holds more than the cap (when watched); remembers the hit.
    pub fn check_host_memory(&mut self) -> Result<()> {
        let Some(cap) = self.resident_cap else {
            return Ok(());
        };
        match resident_bytes() {
            Some(resident) if resident > cap => {
                let hit = LimitHit::HostMemory { resident, cap };
                self.hit = Some(hit.clone());
                Err(wasmtime::Error::new(hit))
            }
            _ => Ok(()),
        }
    }

    pub fn start_call(&mut self) {
        self.ticks_this_call = 0;
    }

    /// Called on each epoch deadline: `Err` ends the call once the CPU budget is spent.
    pub fn on_tick(&mut self) -> Result<()> {
        self.ticks_this_call += 1;
        if self.ticks_this_call.is_multiple_of(RSS_EVERY_TICKS) {
            self.check_host_memory()?;
        }
        let budget_ticks = (self.limits.cpu_per_call.as_millis() / TICK.as_millis()).max(1) as u64;
        if self.ticks_this_call > budget_ticks {
            let hit = LimitHit::Cpu {
                budget: self.limits.cpu_per_call,
            };
            self.hit = Some(hit.clone());
            return Err(wasmtime::Error::new(hit));
        }
        Ok(())
    }
}

/// This process's resident set size, where the platform tells it (Linux: `/proc/self/status`).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

impl ResourceLimiter for Meter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.limits.memory_bytes {
            let hit = LimitHit::Memory {
                desired,
                cap: self.limits.memory_bytes,
            };
            self.hit = Some(hit.clone());
            return Err(wasmtime::Error::new(hit));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_past_the_cap_is_refused_and_remembered() {
        let mut m = Meter::new(
            Limits {
                memory_bytes: 64 << 20,
                ..Limits::default()
            },
            0,
        );
        assert!(m.memory_growing(0, 32 << 20, None).unwrap());
        assert!(m.memory_growing(0, 65 << 20, None).is_err());
        assert_eq!(
            m.hit,
            Some(LimitHit::Memory {
                desired: 65 << 20,
                cap: 64 << 20
            })
        );
        assert!(m.hit.unwrap().to_string().contains("cap is 64 MiB"));
    }

    #[test]
    fn cpu_budget_counts_ticks_per_call() {
        let mut m = Meter::new(
            Limits {
                cpu_per_call: Duration::from_millis(30),
                ..Limits::default()
            },
            0,
        );
        for _ in 0..3 {
            m.on_tick().unwrap();
        }
        m.start_call();
        for _ in 0..3 {
            m.on_tick().unwrap();
        }
        assert!(m.on_tick().is_err());
        assert!(matches!(m.hit, Some(LimitHit::Cpu { .. })));
    }

    #[test]
    fn watched_host_memory_past_the_cap_is_named() {
        let base = resident_bytes().expect("this test runs on Linux");
        let mut m = Meter::new(
            Limits {
                memory_bytes: 0,
                watch_host_memory: true,
                ..Limits::default()
            },
            64 << 20,
        );
        let hog = vec![1u8; 96 << 20];
        let err = m.check_host_memory().unwrap_err();
        assert!(hog.iter().all(|b| *b == 1) && resident_bytes().unwrap() > base);
        assert!(err.to_string().contains("host memory limit"), "{err}");
        assert!(matches!(m.hit, Some(LimitHit::HostMemory { .. })));
        let unwatched = Meter::new(Limits::default(), 0);
        assert_eq!(unwatched.resident_cap, None);
    }
}
