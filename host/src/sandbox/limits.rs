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
//! Host CPU: what the host computes on an instance's behalf outside its code (decoding and
//! scrubbing the responses it asked for) is charged to the same per-call budget through
//! [`HostWork`]: the hook refuses requests once that work alone has spent the budget, and the
//! meter stops the call once the component's ticks and that work together have.
//!
//! Host memory: what the component makes the host hold is bounded in [`super::budget`]; as a
//! backstop, the meter also watches the process's resident memory (every [`RSS_EVERY_TICKS`]
//! ticks of guest CPU and after every call) against the component's memory limit plus that
//! budget, above what the host held before the instance started.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::{ResourceLimiter, Result};

use crate::mutants::{Duty, skips};

/// How often the epoch advances: the CPU and wall-clock limits' resolution.
pub const TICK: Duration = Duration::from_millis(10);

/// What one component instance may use.
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

impl Limits {
    /// 512 MiB of memory, a minute of CPU and 15 minutes of wall-clock time per call; the
    /// process's memory not watched.
    pub const DEFAULT: Limits = Limits {
        memory_bytes: 512 << 20,
        cpu_per_call: Duration::from_secs(60),
        wall_per_call: Duration::from_secs(15 * 60),
        watch_host_memory: false,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Which limit a guest hit, recorded by the limiter or the epoch callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitHit {
    /// A memory grew past its cap.
    Memory {
        /// The size it asked for, in bytes.
        desired: usize,
        /// The cap, in bytes.
        cap: usize,
    },
    /// One call used up its CPU time.
    Cpu {
        /// The CPU time a call may use.
        budget: Duration,
        /// Of which the host spent on the component's behalf (decoding, scrubbing).
        host: Duration,
    },
    /// The process's resident memory passed the component's limit plus the host's budget.
    HostMemory {
        /// The process's resident memory, in bytes.
        resident: u64,
        /// What it may reach, in bytes.
        cap: u64,
    },
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Memory { desired, cap } => write!(
                f,
                "memory limit: the component tried to grow its memory to {:.1} MiB in all; the cap is {} MiB",
                *desired as f64 / (1 << 20) as f64,
                cap >> 20
            ),
            LimitHit::Cpu { budget, host } if host.is_zero() => write!(
                f,
                "CPU limit: the component computed for more than {:.1} s in one call",
                budget.as_secs_f64()
            ),
            LimitHit::Cpu { budget, host } => write!(
                f,
                "CPU limit: the component used more than {:.1} s of CPU in one call, {:.1} s of \
                 it the host's work on its behalf (decoding and scrubbing the responses it \
                 asked for)",
                budget.as_secs_f64(),
                host.as_secs_f64()
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

/// Host CPU spent on one instance's behalf in its current call: what the transport and the
/// hook measure around the work they do for it, read by the meter and the hook.
#[derive(Debug)]
pub struct HostWork {
    budget: Duration,
    /// Nanoseconds of host work since the instance was created, and when the last call ended:
    /// work done between calls (a response fetched ahead and decoded while the runtime commits
    /// a page) counts toward the next call, so no work goes uncharged.
    total: AtomicU64,
    call_start: AtomicU64,
    /// Calls into the instance that have returned.
    calls_ended: AtomicU64,
}

impl HostWork {
    /// A meter of host work within a CPU `budget` per call.
    pub fn new(budget: Duration) -> HostWork {
        HostWork {
            budget,
            total: AtomicU64::new(0),
            call_start: AtomicU64::new(0),
            calls_ended: AtomicU64::new(0),
        }
    }

    /// Runs `work` (synchronous host computation for the instance) and charges its time.
    pub fn charge<T>(&self, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = work();
        let nanos = started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.total.fetch_add(nanos, Ordering::Relaxed);
        out
    }

    /// Host work charged since the previous call ended.
    pub fn this_call(&self) -> Duration {
        let total = self.total.load(Ordering::Relaxed);
        Duration::from_nanos(total.saturating_sub(self.call_start.load(Ordering::Relaxed)))
    }

    fn next_call(&self) {
        self.call_start
            .store(self.total.load(Ordering::Relaxed), Ordering::Relaxed);
        self.calls_ended.fetch_add(1, Ordering::Relaxed);
    }

    /// How many calls into the instance have returned so far.
    pub fn calls_ended(&self) -> u64 {
        self.calls_ended.load(Ordering::Relaxed)
    }

    /// `Err` (the reason) once host work alone has spent this call's CPU budget.
    pub fn check(&self) -> Result<(), String> {
        let spent = self.this_call();
        if spent <= self.budget {
            return Ok(());
        }
        Err(format!(
            "CPU limit: the host spent {:.1} s decoding and scrubbing responses for this call; \
             the component's budget is {:.1} s a call",
            spent.as_secs_f64(),
            self.budget.as_secs_f64()
        ))
    }
}

/// Per-store limiter state.
pub struct Meter {
    limits: Limits,
    ticks_this_call: u64,
    /// The host's work on this instance's behalf, charged to the same budget.
    pub host_work: std::sync::Arc<HostWork>,
    /// Resident bytes the process may reach, when watched: the baseline at instantiation plus
    /// the component's memory limit plus the host's budget for it.
    resident_cap: Option<u64>,
    /// The limit the component hit, once it has.
    pub hit: Option<LimitHit>,
    /// Bytes of all the instance's linear memories together: a component composed of several
    /// modules (CPython's interpreter, an adapter, a composed stub) has several memories, and
    /// the cap is on their sum.
    memory_in_use: usize,
}

impl Meter {
    /// `host_budget`: bytes the host may hold on the component's behalf besides its memory.
    pub fn new(limits: Limits, host_budget: u64) -> Self {
        let host_work = std::sync::Arc::new(HostWork::new(limits.cpu_per_call));
        let resident_cap = if limits.watch_host_memory {
            resident_bytes().map(|base| base + limits.memory_bytes as u64 + host_budget)
        } else {
            None
        };
        Meter {
            limits,
            ticks_this_call: 0,
            host_work,
            resident_cap,
            hit: None,
            memory_in_use: 0,
        }
    }

    /// `Err` once the process holds more than the cap (when watched); remembers the hit.
    pub fn check_host_memory(&mut self) -> Result<()> {
        let Some(cap) = self.resident_cap.filter(|_| !skips(Duty::MemoryLimit)) else {
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

    /// A call starts: its CPU and wall-clock budgets start afresh.
    pub fn start_call(&mut self) {
        self.ticks_this_call = 0;
    }

    /// A call has returned (and been checked): host work from now on counts toward the next.
    pub fn end_call(&mut self) {
        self.host_work.next_call();
    }

    /// Called on each epoch deadline: `Err` ends the call once the CPU budget is spent.
    pub fn on_tick(&mut self) -> Result<()> {
        self.ticks_this_call += 1;
        if self.ticks_this_call.is_multiple_of(RSS_EVERY_TICKS) {
            self.check_host_memory()?;
        }
        self.check_cpu()
    }

    /// `Err` once the component's own ticks and the host's work for it in this call together
    /// pass the budget; also checked when a call returns (host work happens between ticks).
    pub fn check_cpu(&mut self) -> Result<()> {
        let host = self.host_work.this_call();
        let used = TICK * self.ticks_this_call.min(u32::MAX as u64) as u32 + host;
        super::fair::note_busy(used);
        if used > self.limits.cpu_per_call.max(TICK) {
            let hit = LimitHit::Cpu {
                budget: self.limits.cpu_per_call,
                host,
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
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        let total = (self.memory_in_use - current.min(self.memory_in_use)).saturating_add(desired);
        if total > self.limits.memory_bytes && !skips(Duty::MemoryLimit) {
            let hit = LimitHit::Memory {
                desired: total,
                cap: self.limits.memory_bytes,
            };
            self.hit = Some(hit.clone());
            return Err(wasmtime::Error::new(hit));
        }
        self.memory_in_use = total;
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
    /// Core instances of one component: a Rust connector has a handful; CPython with its
    /// adapters and a composed stub about twenty.
    fn instances(&self) -> usize {
        64
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
        assert!(m.memory_growing(32 << 20, 65 << 20, None).is_err());
        assert_eq!(
            m.hit,
            Some(LimitHit::Memory {
                desired: 65 << 20,
                cap: 64 << 20
            })
        );
        assert!(m.hit.unwrap().to_string().contains("cap is 64 MiB"));
    }

    /// Several memories share one cap: two of 40 MiB do not fit in 64.
    #[test]
    fn the_cap_is_on_all_memories_together() {
        let mut m = Meter::new(
            Limits {
                memory_bytes: 64 << 20,
                ..Limits::default()
            },
            0,
        );
        assert!(m.memory_growing(0, 40 << 20, None).unwrap());
        assert!(m.memory_growing(0, 20 << 20, None).unwrap());
        assert!(m.memory_growing(20 << 20, 24 << 20, None).unwrap());
        assert!(m.memory_growing(0, 1 << 20, None).is_err());
        assert_eq!(
            m.hit,
            Some(LimitHit::Memory {
                desired: 65 << 20,
                cap: 64 << 20
            })
        );
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
    fn host_work_counts_against_the_same_budget() {
        let mut m = Meter::new(
            Limits {
                cpu_per_call: Duration::from_millis(100),
                ..Limits::default()
            },
            0,
        );
        m.start_call();
        m.host_work
            .charge(|| std::thread::sleep(Duration::from_millis(30)));
        assert!(m.host_work.check().is_ok());
        // 100 ms allow ten ticks of the component's own; 30 ms of host work leave it seven.
        let ticks = (1..=10).find(|_| m.on_tick().is_err()).expect("stopped");
        assert!((7..=8).contains(&ticks), "{ticks}");
        let hit = m.hit.clone().unwrap().to_string();
        assert!(hit.contains("host's work on its behalf"), "{hit}");
        // Host work alone past the budget: the hook refuses further requests.
        m.host_work
            .charge(|| std::thread::sleep(Duration::from_millis(80)));
        assert!(m.host_work.check().unwrap_err().contains("CPU limit"));
        // Once a call has ended, the next starts from nothing but the work done in between.
        m.end_call();
        m.host_work
            .charge(|| std::thread::sleep(Duration::from_millis(20)));
        m.start_call();
        assert!(m.host_work.this_call() >= Duration::from_millis(20));
        assert!(m.host_work.check().is_ok() && m.check_cpu().is_ok());
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
