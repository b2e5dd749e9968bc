#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock, for timing work (benchmarks, the trainer's tokens/s, the
/// GEMM profile): unlike wall-clock time it never jumps when the system clock is set.
public enum MonotonicClock {
    public static func seconds() -> Double { secondsOn(CLOCK_MONOTONIC) }
}

/// CPU seconds this process has used, all its threads, user and system: against wall time, how
/// much of the cores it had (another busy program leaves it less).
public enum ProcessCPUClock {
    public static func seconds() -> Double { secondsOn(CLOCK_PROCESS_CPUTIME_ID) }
}

private func secondsOn(_ clock: clockid_t) -> Double {
    var t = timespec()
    clock_gettime(clock, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
