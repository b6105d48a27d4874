import Dispatch
import Synchronization

/// Fan-out of kernel work over the cores.
///
/// Every kernel splits its work into at most `Parallel.threads` contiguous chunks
/// and runs them with `DispatchQueue.concurrentPerform`, which draws on GCD's
/// core-sized pool, so several runs on their own queues share the cores instead of
/// oversubscribing them. OpenBLAS is pinned to one thread (see `BLAS`): all
/// parallelism is ours, and a result depends only on the thread count.
public enum Parallel {
    private static let configured = Atomic<Int>(0)

    /// The number of chunks kernels split into (default: the number of active cores).
    public static var threads: Int {
        get {
            let n = configured.load(ordering: .relaxed)
            return n > 0 ? n : ProcessInfoCores.active
        }
        set { configured.store(max(1, newValue), ordering: .relaxed) }
    }

    /// Calls `body(lo, hi)` for contiguous chunks that cover `0..<count`, in parallel
    /// when there is enough work (`count >= minChunk * 2`). Chunk bounds depend only
    /// on `count`, `threads` and `minChunk`, never on timing.
    public static func chunks(_ count: Int, minChunk: Int = 1, _ body: (Int, Int) -> Void) {
        guard count > 0 else { return }
        let n = Swift.min(threads, Swift.max(1, count / Swift.max(1, minChunk)))
        if n <= 1 { body(0, count); return }
        // Safe to share: concurrentPerform returns only after every chunk has run, so
        // `body` outlives its uses, and callers write disjoint ranges per chunk.
        nonisolated(unsafe) let work = body
        DispatchQueue.concurrentPerform(iterations: n) { i in
            work(count * i / n, count * (i + 1) / n)
        }
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
