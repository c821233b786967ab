//! Fair shares between the jobs of one process (`connector-host run`).
//!
//! Each job runs on threads of its own, so the operating system shares the cores between jobs
//! as between processes. Its scheduler shares them between the threads that want to run *now*,
//! though: two components that compute without pause would still take two thirds of the cores
//! from an honest job whenever it has work to do. So a job whose component computes for more
//! than [`BUSY_CALL`] in one call (its own code and the host's work on its behalf together)
//! has all its threads lowered to [`DEMOTED_NICE`]: from then on it runs on what the other jobs
//! leave, and at full speed when they leave everything. An honest call (mapping one page)
//! takes a fraction of that.
//!
//! Threads outside a job (the CLI's `sync`, an embedder's) are never touched.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// CPU one call may use before its job yields the cores to jobs that compute less.
pub const BUSY_CALL: Duration = Duration::from_millis(200);

/// The priority (nice value) of a busy job's threads: under contention about a tenth of the
/// share of a thread at the default 0.
pub const DEMOTED_NICE: i32 = 10;

thread_local! {
    static JOB: RefCell<Option<Arc<JobThreads>>> = const { RefCell::new(None) };
}

/// The threads one job runs on.
#[derive(Debug, Default)]
pub struct JobThreads {
    threads: Mutex<Vec<i32>>,
    demoted: AtomicBool,
}

impl JobThreads {
    /// No job threads yet.
    pub fn new() -> Arc<JobThreads> {
        Arc::new(JobThreads::default())
    }

    /// Counts the calling thread as one of this job's (a job runtime's `on_thread_start`).
    pub fn enter(self: &Arc<Self>) {
        let tid = current_thread_id();
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tid);
        JOB.set(Some(self.clone()));
        if self.demoted.load(Ordering::Relaxed) {
            lower_priority(tid);
        }
    }

    /// The calling thread is ending (a job runtime's `on_thread_stop`): forget it, so that its
    /// id, once the kernel hands it to another thread, is never lowered for this job.
    pub fn leave(&self) {
        let tid = current_thread_id();
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|t| *t != tid);
        JOB.set(None);
    }

    /// Lowers every thread of the job, once.
    fn demote(&self) {
        if self.demoted.swap(true, Ordering::Relaxed) {
            return;
        }
        let threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        tracing::info!(
            "the component computed for more than {:.1} s in one call: this job now yields \
             the cores to the others",
            BUSY_CALL.as_secs_f64()
        );
        for tid in threads.iter() {
            lower_priority(*tid);
        }
    }

    /// Whether this job's threads run at a lower priority now.
    pub fn is_demoted(&self) -> bool {
        self.demoted.load(Ordering::Relaxed)
    }
}

/// Called as a call computes: `busy` is the CPU it has used so far. On a job's thread, past
/// [`BUSY_CALL`], lowers the job.
pub fn note_busy(busy: Duration) {
    if busy > BUSY_CALL {
        JOB.with_borrow(|job| {
            if let Some(job) = job {
                job.demote();
            }
        });
    }
}

#[cfg(target_os = "linux")]
fn current_thread_id() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

#[cfg(target_os = "linux")]
fn lower_priority(tid: i32) {
    // Per thread on Linux. Lowering a priority needs no privilege; a failure leaves the thread
    // as it was (the job still runs, only without the lower priority).
    // SAFETY: setpriority has no memory-safety preconditions.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, DEMOTED_NICE) };
    if r != 0 {
        tracing::debug!(
            "could not lower thread {tid}'s priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn current_thread_id() -> i32 {
    0
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_tid: i32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    fn nice_of(tid: i32) -> i32 {
        // SAFETY: getpriority has no memory-safety preconditions.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) }
    }

    /// Only a job's own threads are lowered, only once its call is busy, and a thread the job
    /// starts afterwards starts lowered.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_busy_job_lowers_its_own_threads_and_no_others() {
        let job = JobThreads::new();
        let spawn = |job: Arc<JobThreads>, busy: Duration| {
            std::thread::spawn(move || {
                job.enter();
                note_busy(busy);
                nice_of(current_thread_id())
            })
            .join()
            .unwrap()
        };
        assert_eq!(spawn(job.clone(), Duration::from_millis(100)), 0);
        assert!(!job.is_demoted());
        assert_eq!(spawn(job.clone(), Duration::from_secs(1)), DEMOTED_NICE);
        assert!(job.is_demoted());
        assert_eq!(spawn(job.clone(), Duration::ZERO), DEMOTED_NICE);
        // A thread of no job is left alone, busy or not.
        let outside = std::thread::spawn(|| {
            note_busy(Duration::from_secs(5));
            nice_of(current_thread_id())
        });
        assert_eq!(outside.join().unwrap(), 0);
        // A thread that has ended is forgotten: its id may be another thread's next.
        let before = job.threads.lock().unwrap().len();
        let passing = job.clone();
        std::thread::spawn(move || {
            passing.enter();
            passing.leave();
        })
        .join()
        .unwrap();
        assert_eq!(job.threads.lock().unwrap().len(), before);
    }
}
