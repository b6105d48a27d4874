import Dispatch

/// Timing helpers for `adderlab bench` and for anyone benchmarking the kernels.

/// Median, fastest and slowest of repeated measurements.
public struct Timing: Sendable {
    public var median: Double, min: Double, max: Double
    public init(median: Double, min: Double, max: Double) { self.median = median; self.min = min; self.max = max }

    /// Seconds per call: one warm-up call, then `repeats` timed calls.
    public static func measure(repeats: Int, _ body: () -> Void) -> Timing {
        body()
        var times: [Double] = []
        for _ in 0..<Swift.max(repeats, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        return Timing(median: times[times.count / 2], min: times.first!, max: times.last!)
    }

    /// Throughput in G per second from seconds per call and work per call.
    public func rate(work: Double) -> Timing {
        Timing(median: work / median / 1e9, min: work / max / 1e9, max: work / min / 1e9)
    }
}

/// One adder layer's kernel problem: T filters of K weights against P columns.
public struct KernelShape: Sendable {
    public var names: [String]
    public var t: Int, k: Int, p: Int
    public init(names: [String], t: Int, k: Int, p: Int) { self.names = names; self.t = t; self.k = k; self.p = p }
    public var label: String { "\(t)×\(k)×\(p)" + (names.count > 1 ? " (\(names.count) layers)" : "") }
}

/// The adder kernels and their multiplicative counterparts timed on one shape.
public enum KernelBenchmark {
    public struct Result: Sendable {
        public var forward, input, filterSign, filterFP, sgemm: Timing
        /// The multiply-accumulate input gradient dX = Wᵀ·G against OpenBLAS (G MAC/s).
        public var macInput, blasInput: Timing
    }

    /// G pairs/s (adder kernels) and G MAC/s (sgemm, MAC input gradient) on random data.
    public static func run(_ s: KernelShape, repeats: Int) -> Result {
        var g = SeededGenerator(seed: 3)
        // Plain buffers, owned here for the whole measurement.
        func buffer(_ n: Int, random: Bool) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            for i in 0..<n { p[i] = random ? g.nextNormal() : 0 }
            return p
        }
        let W = buffer(s.t * s.k, random: true), X = buffer(s.k * s.p, random: true), G = buffer(s.t * s.p, random: true)
        let Y = buffer(s.t * s.p, random: false), DX = buffer(s.k * s.p, random: false), DW = buffer(s.t * s.k, random: false)
        defer { for p in [W, X, G, Y, DX, DW] { p.deallocate() } }
        let pairs = Double(s.t * s.k * s.p)
        do {
            let f = Timing.measure(repeats: repeats) { AdderKernels.forward(w: W, x: X, y: Y, t: s.t, k: s.k, p: s.p) }
            let i = Timing.measure(repeats: repeats) { AdderKernels.inputGradient(rule: .hardTanh, w: W, x: X, g: G, dx: DX, t: s.t, k: s.k, p: s.p) }
            let fs = Timing.measure(repeats: repeats) { AdderKernels.filterGradient(rule: .sign, w: W, x: X, g: G, dw: DW, t: s.t, k: s.k, p: s.p) }
            let ff = Timing.measure(repeats: repeats) { AdderKernels.filterGradient(rule: .fullPrecision, w: W, x: X, g: G, dw: DW, t: s.t, k: s.k, p: s.p) }
            let mm = Timing.measure(repeats: repeats) { BLAS.sgemm(m: s.t, n: s.p, k: s.k, a: W, lda: s.k, b: X, ldb: s.p, c: Y, ldc: s.p) }
            let mi = Timing.measure(repeats: repeats) { MACKernels.inputGradient(w: W, g: G, dx: DX, t: s.t, k: s.k, p: s.p) }
            let bi = Timing.measure(repeats: repeats) {
                BLAS.sgemm(transA: true, m: s.k, n: s.p, k: s.t, a: W, lda: s.k, b: G, ldb: s.p, c: DX, ldc: s.p)
            }
            return Result(forward: f.rate(work: pairs), input: i.rate(work: pairs), filterSign: fs.rate(work: pairs),
                          filterFP: ff.rate(work: pairs), sgemm: mm.rate(work: pairs), macInput: mi.rate(work: pairs), blasInput: bi.rate(work: pairs))
        }
    }
}
