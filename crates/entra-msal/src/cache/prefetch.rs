//! A hint to the processor: start loading a value's memory now.
//!
//! An application among many that take turns (a service with one application per tenant) has
//! its state out of the processor's caches when its turn comes. Read field by field, each line
//! is a miss waited for alone; asked for at once, the misses overlap. The hint changes nothing
//! a program can observe, only when memory arrives.

/// Asks the processor to load every cache line of `value` (its own bytes, not what it points
/// to). A no-op on targets other than x86-64.
#[inline]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = std::ptr::from_ref(value).cast::<i8>();
        for offset in (0..size_of::<T>()).step_by(LINE) {
            let line = start.wrapping_add(offset);
            // SAFETY: a prefetch reads nothing a program can see and cannot fault, whatever the
            // address (here every one is inside `value`); SSE, which it needs, is part of every
            // x86-64 processor.
            #[allow(unsafe_code)]
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// The cache line of x86-64 processors.
#[cfg(target_arch = "x86_64")]
const LINE: usize = 64;
