import Dispatch

/// Fan-out of kernel work over the cores.
///
/// Every kernel splits its work into at most `Parallel.threads` contiguous chunks (a
/// per-thread count, so each training run uses its own)
/// and runs them with `DispatchQueue.concurrentPerform`, which draws on GCD's
/// core-sized pool, so several runs on their own queues share the cores instead of
/// oversubscribing them. OpenBLAS is pinned to one thread (see `BLAS`): all
/// parallelism is ours, and a result depends only on the thread count.
///
/// Calls nest: inside a chunk, `chunks` runs its body inline on the calling thread,
/// so a layer can split a batch over the cores and call the same kernels per part.
public enum Parallel {
    /// The number of chunks kernels split into on the calling thread: the count set by
    /// the innermost `withThreads` around the call (a training run sets its own), else
    /// the number of active cores. Not a process-wide setting: runs and tests on other
    /// threads each keep their own.
    public static var threads: Int {
        if let p = pthread_getspecific(threadsKey) { return Int(bitPattern: p) }
        return ProcessInfoCores.active
    }

    /// Runs `body` with kernels on this thread (and the chunks they fan out to) split
    /// into `count` chunks (at least 1).
    public static func withThreads<R, E: Error>(_ count: Int, _ body: () throws(E) -> R) throws(E) -> R {
        let outer = pthread_getspecific(threadsKey)
        pthread_setspecific(threadsKey, UnsafeRawPointer(bitPattern: Swift.max(1, count)))
        defer { pthread_setspecific(threadsKey, outer) }
        return try body()
    }

    /// Calls `body(lo, hi)` for contiguous chunks that cover `0..<count`, in parallel
    /// when there is enough work (`count >= minChunk * 2`). Chunk bounds depend only
    /// on `count`, `threads` and `minChunk`, never on timing. A chunk's body sees the
    /// caller's thread count and step profile.
    public static func chunks(_ count: Int, minChunk: Int = 1, _ body: (Int, Int) -> Void) {
        guard count > 0 else { return }
        let threads = threads
        let n = Swift.min(threads, Swift.max(1, count / Swift.max(1, minChunk)))
        if n <= 1 || isInsideChunk { body(0, count); return }
        // Safe to share: concurrentPerform returns only after every chunk has run, so
        // `body` outlives its uses, and callers write disjoint ranges per chunk.
        nonisolated(unsafe) let work = body
        // The caller's step profile (nil unless a benchmark installed one) goes with it.
        nonisolated(unsafe) let profile = StepProfile.installed
        DispatchQueue.concurrentPerform(iterations: n) { i in
            let outer = pthread_getspecific(insideKey), outerProfile = StepProfile.installed
            pthread_setspecific(insideKey, UnsafeRawPointer(bitPattern: 1))   // any non-nil marker
            StepProfile.install(profile)
            withThreads(threads) { work(count * i / n, count * (i + 1) / n) }
            StepProfile.install(outerProfile)
            pthread_setspecific(insideKey, outer)
        }
    }

    /// True on a thread that is running a chunk's body.
    public static var isInsideChunk: Bool { pthread_getspecific(insideKey) != nil }

    /// Per-thread flag: non-nil while the thread runs a chunk.
    private static let insideKey = makeKey()
    /// Per-thread count set by `withThreads` (nil: the default).
    private static let threadsKey = makeKey()

    private static func makeKey() -> pthread_key_t {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }
}

/// Number of online processors, read once.
public enum ProcessInfoCores {
    public static let active: Int = {
        #if canImport(Glibc)
        return Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()
}

#if canImport(Glibc)
import Glibc
#endif
