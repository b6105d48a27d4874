import Dispatch
import Synchronization

/// Where a training step's time goes, by part (`adderlab bench train --breakdown`).
///
/// Opt-in and per thread: a profile is installed on the calling thread by `recording`
/// (and carried into the chunks `Parallel.chunks` fans out to), never process-wide, so
/// runs and tests on other threads are not measured and cannot disturb it. With none
/// installed, `measure` and `region` cost one thread-local read.
///
/// Parts do not nest. On the step's own thread, `measure` adds the wall time of its body
/// to its part. A parallel section whose parts are interleaved inside each block (unfold,
/// kernel, fold) runs as a `region`: inside it, `measure` adds each piece's thread time,
/// and when the region ends its wall time is split among the parts in proportion to those
/// thread times (idle threads and block bookkeeping are spread the same way). The parts
/// therefore add up to at most the step's wall time; what no part covers (reshapes,
/// allocation of outputs, the layer calls themselves) is the step time minus their sum.
public final class StepProfile: Sendable {
    public enum Part: Int, CaseIterable, Sendable {
        case adderForward, adderInputGradient, adderFilterGradient, gemm, batchNorm, unfold, elementwise, optimizer

        /// The name in tables and JSON.
        public var label: String {
            switch self {
            case .adderForward: "adder forward"
            case .adderInputGradient: "adder input gradient"
            case .adderFilterGradient: "adder filter gradient"
            case .gemm: "GEMM"
            case .batchNorm: "batch norm"
            case .unfold: "im2col/col2im"
            case .elementwise: "elementwise"
            case .optimizer: "optimizer"
            }
        }
    }

    private struct State {
        var wall = [Double](repeating: 0, count: Part.allCases.count)
        var inRegion = [Double](repeating: 0, count: Part.allCases.count)
        var regionDepth = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Seconds of wall time per part so far, in `Part.allCases` order.
    public var seconds: [Double] { state.withLock { $0.wall } }

    /// Forgets what was measured.
    public func reset() { state.withLock { $0 = State() } }

    @usableFromInline func add(_ part: Part, _ seconds: Double) {
        state.withLock { s in
            if s.regionDepth > 0 { s.inRegion[part.rawValue] += seconds } else { s.wall[part.rawValue] += seconds }
        }
    }

    /// Runs `body` with `profile` installed on this thread (and the chunks it fans out to).
    public static func recording<R, E: Error>(_ profile: StepProfile, _ body: () throws(E) -> R) throws(E) -> R {
        let outer = pthread_getspecific(key)
        pthread_setspecific(key, Unmanaged.passUnretained(profile).toOpaque())
        defer { pthread_setspecific(key, outer) }
        return try withExtendedLifetime(profile) { () throws(E) -> R in try body() }
    }

    /// The profile installed on this thread, if any.
    @usableFromInline static var current: StepProfile? {
        guard let p = pthread_getspecific(key) else { return nil }
        return Unmanaged<StepProfile>.fromOpaque(p).takeUnretainedValue()
    }

    /// The raw thread-local value, for `Parallel.chunks` to carry into its chunks.
    static var installed: UnsafeMutableRawPointer? { pthread_getspecific(key) }
    static func install(_ p: UnsafeMutableRawPointer?) { pthread_setspecific(key, p) }

    /// Runs `body`, adding its time to `part` when a profile is installed.
    @inlinable @inline(__always)
    public static func measure<R>(_ part: Part, _ body: () -> R) -> R {
        guard let p = current else { return body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = body()
        p.add(part, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        return r
    }

    /// Runs a parallel section whose parts `measure` inside its chunks: its wall time is
    /// split among them in proportion to their thread times.
    @inlinable @inline(__always)
    public static func region<R>(_ body: () -> R) -> R {
        guard let p = current else { return body() }
        return p.splitRegion(body)
    }

    @usableFromInline func splitRegion<R>(_ body: () -> R) -> R {
        let outermost = state.withLock { s in s.regionDepth += 1; return s.regionDepth == 1 }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = body()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        state.withLock { s in
            s.regionDepth -= 1
            guard outermost else { return }
            let total = s.inRegion.reduce(0, +)
            if total > 0 {
                for i in s.wall.indices { s.wall[i] += wall * s.inRegion[i] / total }
            }
            s.inRegion = [Double](repeating: 0, count: Part.allCases.count)
        }
        return r
    }

    @usableFromInline static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()
}

#if canImport(Glibc)
import Glibc
#endif
