//! Keeps glibc's allocator from handing freed buffers back to the kernel under load.
//!
//! A busy broker frees and allocates buffers of 64 KiB to a few MiB all the time (staging
//! buffers, outbound chunks). With glibc's defaults, freeing one at the top of a thread's heap
//! returns its pages to the kernel (`madvise`/`munmap`), and the next allocation of the same
//! size faults every page in again, zeroed. With the server pinned to one core, 64 KiB
//! fan-out spent about a third of its time in page faults (5.4 faults per delivered message;
//! nats-server, whose Go heap keeps freed memory, 0.4). Raising the trim and mmap thresholds
//! once at start-up brings that to 0.01 and the CPU time per delivered message down by a
//! quarter (docs/benchmarks.md). The cost: up to `TRIM_THRESHOLD` of freed memory per heap
//! stays mapped after a burst, as it would in a garbage-collected server.

/// Free memory at the top of a heap beyond this is returned to the kernel.
const TRIM_THRESHOLD: i32 = 64 * 1024 * 1024;
/// Allocations above this get their own mapping (and are unmapped when freed).
const MMAP_THRESHOLD: i32 = 4 * 1024 * 1024;

/// Sets the thresholds; call first thing in `main`, before other threads exist.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn tune() {
    // SAFETY: `mallopt` only sets two integer parameters of the process's allocator under its
    // own lock; it takes no pointers and the values are within the ranges glibc documents
    // (the mmap threshold at most 32 MiB on 64-bit). A refused value (return 0) leaves the
    // default in place, which is still correct, so the result needs no handling.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Other allocators keep freed memory on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn tune() {}
