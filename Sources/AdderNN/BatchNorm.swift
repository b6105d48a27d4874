import AdderCore
import CVector

/// Batch normalisation over N×C (1-d) or N×C×H×W (2-d) inputs, as PyTorch's
/// BatchNorm1d/2d: batch statistics in training (biased variance to normalise,
/// unbiased to update the running variance), running statistics in evaluation,
/// momentum 0.1, ε 1e-5, γ = 1 and β = 0 at the start.
///
/// After each training forward pass it keeps the batch mean and variance, so the
/// gap between running and batch statistics (which adder outputs can open wide)
/// can be read without another pass.
public final class BatchNorm: Layer {
    public let channels: Int
    /// 1 for N×C inputs, 2 for N×C×H×W.
    public let dimensions: Int
    public let momentum: Float, epsilon: Float
    public let scale: Parameter, shift: Parameter
    public let runningMean: Parameter, runningVariance: Parameter
    public private(set) var batchMean: [Float]
    public private(set) var batchVariance: [Float]
    public var typeName: String { dimensions == 1 ? "BatchNorm1d" : "BatchNorm2d" }

    /// The ReLU that follows is applied here: the output is max(γ·x̂ + β, 0), and backward
    /// takes the gradient through it (set by `fuseBatchNormReLU`, with the ReLU passing
    /// values through). Saves the ReLU's passes over memory, forward and backward.
    public var fusedReLU = false

    /// In evaluation, normalise with the batch's own statistics instead of the running
    /// ones (the running statistics are left alone). Used to measure how far the running
    /// statistics lag behind.
    public var evaluateWithBatchStatistics = false

    /// While recalibrating: how many training forwards have been averaged so far. Each
    /// forward then weighs its statistics 1/k into the running ones (the k-th batch), so
    /// after k batches they are the plain mean of those batches' statistics.
    private var recalibrated: Int?

    /// Starts recalibration: the next training forwards replace the running statistics
    /// with their own mean (see `Model.recalibrateBatchNorm`).
    public func beginRecalibration() { recalibrated = 0 }
    public func endRecalibration() { recalibrated = nil }

    /// The ranks of a data-parallel run (nil: this process alone). With ranks, training
    /// forwards normalise with the statistics of the whole global batch (synchronised batch
    /// norm) and backward sums Σg and Σg·x̂ over the ranks as well; dγ and dβ stay this
    /// rank's share, to be summed with the other gradients.
    public var collective: (any Collective)?
    /// The ranks the last training forward was synchronised with: its backward must be too.
    private var synchronisedWith: (any Collective)?

    private var normalized: Tensor?
    private var inverseStd: [Float] = []
    private var trainedForward = false

    public init(channels: Int, dimensions: Int = 2, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        precondition(dimensions == 1 || dimensions == 2, "BatchNorm dimensions must be 1 or 2, got \(dimensions)")
        self.channels = channels; self.dimensions = dimensions
        self.momentum = momentum; self.epsilon = epsilon
        scale = Parameter(Tensor(shape: [channels], repeating: 1), role: .normScale)
        shift = Parameter(Tensor(shape: [channels]), role: .normShift)
        runningMean = Parameter(Tensor(shape: [channels]), role: .runningStatistic)
        runningVariance = Parameter(Tensor(shape: [channels], repeating: 1), role: .runningStatistic)
        batchMean = Array(repeating: 0, count: channels)
        batchVariance = Array(repeating: 1, count: channels)
    }

    public var localParameters: [(String, Parameter)] {
        [("weight", scale), ("bias", shift), ("running_mean", runningMean), ("running_var", runningVariance)]
    }

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] {
        let ok = input.count == dimensions * 2 - 1 && input.first == channels
        guard ok else {
            throw .shapeMismatch(expected: dimensions == 1 ? [channels] : [channels, -1, -1], got: input,
                                 context: "\(typeName)(\(channels)) per-sample input")
        }
        return input
    }

    private func checkInput(_ x: Tensor) -> (n: Int, plane: Int) {
        let n = x.shape.first ?? 0
        do { _ = try outputShape(for: Array(x.shape.dropFirst())) } catch { preconditionFailure(error.description) }
        return (n, dimensions == 1 ? 1 : x.shape[2] * x.shape[3])
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, plane) = checkInput(x)
        let m = n * plane
        let C = channels, relu = fusedReLU
        var y: Tensor
        if training || evaluateWithBatchStatistics {
            precondition(m > 1, "\(typeName)(\(channels)) needs more than one value per channel in training, got input \(x.shape)")
            // Outputs: y, x̂, and the per-channel mean, variance and 1/σ.
            var out = [Tensor(uninitializedShape: x.shape), Tensor(uninitializedShape: x.shape),
                       Tensor(shape: [C]), Tensor(shape: [C]), Tensor(shape: [C])]
            let ranks = training ? collective : nil
            Tensor.withPointers([x, scale.value, shift.value], &out) { input, output in
                let (xp, g, b) = (input[0], input[1], input[2])
                let (yp, hp, mp, vp, ip) = (output[0], output[1], output[2], output[3], output[4])
                /// Σ(x − origin) and Σ(x − origin)² over this process's rows of channel c.
                func moments(_ c: Int, about origin: Float) -> (Double, Double) {
                    var s = 0.0, ss = 0.0
                    for i in 0..<n {
                        let row = xp + (i * C + c) * plane
                        let (a, b) = rowSums(row, row, plane, origin: origin)
                        s += a; ss += b
                    }
                    return (s, ss)
                }
                /// Channel c's mean, variance and 1/σ from its moments about `origin` over `count` values.
                func statistics(_ c: Int, origin: Float, _ s: Double, _ ss: Double, count: Double) {
                    let d = s / count
                    let v = Swift.max(0, ss / count - d * d)
                    mp[c] = Float(Double(origin) + d); vp[c] = Float(v); ip[c] = Float(1 / (v + Double(epsilon)).squareRoot())
                }
                /// x̂ and y (through the fused ReLU when there is one) of channel c.
                func normalise(_ c: Int) {
                    let muF = mp[c], istd = ip[c]
                    let gc = g[c], bc = b[c]   // locals: the stores below could alias g and b
                    for i in 0..<n {
                        let o = (i * C + c) * plane
                        if relu {
                            for j in 0..<plane {
                                let h = (xp[o + j] - muF) * istd
                                hp[o + j] = h
                                yp[o + j] = reluAffine(gc, h, bc)
                            }
                        } else {
                            for j in 0..<plane {
                                let h = (xp[o + j] - muF) * istd
                                hp[o + j] = h
                                yp[o + j] = gc * h + bc
                            }
                        }
                    }
                }
                guard let ranks else {
                    Parallel.chunks(C) { lo, hi in
                        for c in lo..<hi {
                            // Moments about the channel's first value, which keeps E[d²] − E[d]²
                            // well conditioned when |mean| ≫ std (adder outputs are large negative numbers).
                            let origin = xp[c * plane]
                            let (s, ss) = moments(c, about: origin)
                            statistics(c, origin: origin, s, ss, count: Double(m))
                            normalise(c)
                        }
                    }
                    return
                }
                // Synchronised over the ranks: the mean from Σx, then the moments about it
                // (well conditioned as above), each summed over every rank's share.
                let total = Double(m * ranks.size)
                var sums = [Double](repeating: 0, count: 2 * C)
                sums.withUnsafeMutableBufferPointer { sp in
                    let sp = sp.baseAddress!
                    Parallel.chunks(C) { lo, hi in for c in lo..<hi { sp[c] = moments(c, about: 0).0 } }
                }
                ranks.sum(&sums)
                let centre = (0..<C).map { Float(sums[$0] / total) }
                sums.withUnsafeMutableBufferPointer { sp in
                    let sp = sp.baseAddress!
                    Parallel.chunks(C) { lo, hi in for c in lo..<hi { (sp[2 * c], sp[2 * c + 1]) = moments(c, about: centre[c]) } }
                }
                ranks.sum(&sums)
                for c in 0..<C { statistics(c, origin: centre[c], sums[2 * c], sums[2 * c + 1], count: total) }
                Parallel.chunks(C) { lo, hi in for c in lo..<hi { normalise(c) } }
            }
            y = out[0]
            let xhat = out[1], mean = out[2].values, variance = out[3].values, inv = out[4].values
            guard training else { return y }
            // With ranks, the statistics are the whole global batch's (every rank's share).
            let total = m * (ranks?.size ?? 1)
            let unbias = Float(total) / Float(total - 1)
            let momentum = recalibrated.map { 1 / Float($0 + 1) } ?? self.momentum
            if let k = recalibrated { recalibrated = k + 1 }
            runningMean.value.withUnsafeMutableBufferPointer { rm in
                runningVariance.value.withUnsafeMutableBufferPointer { rv in
                    for c in 0..<C {
                        rm[c] = (1 - momentum) * rm[c] + momentum * mean[c]
                        rv[c] = (1 - momentum) * rv[c] + momentum * variance[c] * unbias
                    }
                }
            }
            batchMean = mean; batchVariance = variance
            normalized = xhat; inverseStd = inv; trainedForward = true
            synchronisedWith = ranks
        } else {
            y = Tensor(uninitializedShape: x.shape)
            let rm = runningMean.value.values, rv = runningVariance.value.values
            let gamma = scale.value.values, beta = shift.value.values
            let eps = epsilon
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                    Parallel.chunks(C) { lo, hi in
                        for c in lo..<hi {
                            let a = gamma[c] / (rv[c] + eps).squareRoot()
                            let b = beta[c] - a * rm[c]
                            for i in 0..<n {
                                let o = (i * C + c) * plane
                                if relu {
                                    for j in 0..<plane { let v = a * xp[o + j] + b; yp[o + j] = v > 0 ? v : 0 }
                                } else {
                                    for j in 0..<plane { yp[o + j] = a * xp[o + j] + b }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Training-mode backward: dx = γ·σ⁻¹/M · (M·g − Σg − x̂·Σ(g·x̂)); with the ReLU fused,
    /// g is first zeroed where γ·x̂ + β ≤ 0 (the ReLU's gradient).
    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard trainedForward, let xhat = normalized else {
            preconditionFailure("\(typeName).backward called without a training forward pass")
        }
        gradOutput.checkShape(xhat.shape, "\(typeName)(\(channels)) output gradient")
        let (n, plane) = checkInput(xhat)
        let C = channels, m = Float(n * plane), relu = fusedReLU
        let inv = inverseStd
        // Outputs: dx, dγ, dβ (both overwritten, so made here).
        var out = [Tensor(uninitializedShape: xhat.shape), Tensor(shape: [C]), Tensor(shape: [C])]
        // With ranks, Σg′ and Σg′·x̂ are summed over them before dx (with the global count);
        // dγ and dβ stay this rank's share, summed with the other gradients.
        let ranks = synchronisedWith
        var sums = [Double](repeating: 0, count: ranks == nil ? 0 : 2 * C)
        Tensor.withPointers([gradOutput, xhat, scale.value, shift.value], &out) { input, output in
            let (gp, hp, ga, be) = (input[0], input[1], input[2], input[3])
            let (dp, dga, dba) = (output[0], output[1], output[2])
            /// Σg′ and Σg′·x̂ of channel c (g′: g through the fused ReLU), also dβ and dγ.
            func channelSums(_ c: Int) -> (Double, Double) {
                let gc = ga[c], bc = be[c]
                var sg = 0.0, sgh = 0.0
                for i in 0..<n {
                    let o = (i * C + c) * plane
                    let (a, b) = relu ? reluRowSums(gp + o, hp + o, plane, scale: gc, shift: bc) : rowSums(gp + o, hp + o, plane)
                    sg += a; sgh += b
                }
                dga[c] = Float(sgh); dba[c] = Float(sg)
                return (sg, sgh)
            }
            func inputGradient(_ c: Int, _ sg: Double, _ sgh: Double, count m: Float) {
                let gc = ga[c], bc = be[c]
                let k = gc * inv[c] / m
                let sgF = Float(sg), sghF = Float(sgh)
                for i in 0..<n {
                    let o = (i * C + c) * plane
                    inputGradientRow(gp + o, hp + o, dp + o, plane, relu: relu, gamma: gc, beta: bc, k: k, m: m, sg: sgF, sgh: sghF)
                }
            }
            guard let ranks else {
                Parallel.chunks(C) { lo, hi in
                    for c in lo..<hi {
                        let (sg, sgh) = channelSums(c)
                        inputGradient(c, sg, sgh, count: m)
                    }
                }
                return
            }
            sums.withUnsafeMutableBufferPointer { sp in
                let sp = sp.baseAddress!
                Parallel.chunks(C) { lo, hi in for c in lo..<hi { (sp[2 * c], sp[2 * c + 1]) = channelSums(c) } }
            }
            ranks.sum(&sums)
            let total = m * Float(ranks.size)
            Parallel.chunks(C) { lo, hi in for c in lo..<hi { inputGradient(c, sums[2 * c], sums[2 * c + 1], count: total) } }
        }
        let dx = out[0]
        synchronisedWith = nil
        scale.grad = out[1]; shift.grad = out[2]
        normalized = nil
        trainedForward = false
        return dx
    }
}

extension BatchNorm {
    /// How far the running statistics are from the last training batch's, averaged over
    /// channels: |μ_run − μ_batch| / σ_batch, and |ln(σ²_run / σ²_batch)|.
    public func drift() -> (meanGap: Double, logVarianceRatio: Double) {
        let rm = runningMean.value.values, rv = runningVariance.value.values
        var gap = 0.0, ratio = 0.0
        for c in 0..<channels {
            let bv = Double(batchVariance[c]) + Double(epsilon)
            gap += abs(Double(rm[c]) - Double(batchMean[c])) / bv.squareRoot()
            ratio += abs(log((Double(rv[c]) + Double(epsilon)) / bv))
        }
        return (gap / Double(max(channels, 1)), ratio / Double(max(channels, 1)))
    }
}

#if canImport(Glibc)
import Glibc
#endif

// Row reductions for batch norm. Each row (one image's plane of one channel) is summed
// in Float over four 8-lane accumulators, which vectorize and hide the add latency, and
// the row totals are added in Double: a scalar Double running sum, one add per element,
// was latency-bound and made batch norm ~10% of a ResNet-20 step.

/// (Σ (a − origin), Σ (a − origin)·(b − origin)) over `count` values: the moments of
/// a row about `origin` when b = a, the sums of g and g·x̂ when a = g, b = x̂, origin 0.
@inline(__always) func rowSums(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int,
                               origin: Float = 0) -> (Double, Double) {
    typealias V = SIMD8<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    var s0 = V(), s1 = V(), q0 = V(), q1 = V()
    let o = V(repeating: origin)
    var j = 0
    while j + 16 <= count {
        let a0 = load(a + j) - o, a1 = load(a + j + 8) - o
        s0 += a0; s1 += a1
        q0 = q0.addingProduct(a0, load(b + j) - o); q1 = q1.addingProduct(a1, load(b + j + 8) - o)
        j += 16
    }
    var s = Double((s0 + s1).sum()), q = Double((q0 + q1).sum())
    while j < count { let d = Double(a[j] - origin); s += d; q += d * Double(b[j] - origin); j += 1 }
    return (s, q)
}

/// max(γ·x̂ + β, 0): the fused ReLU's output; the same expression decides, in backward,
/// where its gradient passes.
@inline(__always) func reluAffine(_ gamma: Float, _ h: Float, _ beta: Float) -> Float {
    let v = gamma * h + beta
    return v > 0 ? v : 0
}

/// dx = k·(m·g − Σg − x̂·Σ(g·x̂)) over a row, 8 lanes at a time; with `relu`, g is the fused
/// ReLU's gradient g' (g where γ·x̂ + β > 0, else 0). (A plain loop over the row measured
/// 1.8× slower than these vectors.)
@inline(__always) func inputGradientRow(_ g: UnsafePointer<Float>, _ h: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ count: Int,
                                        relu: Bool, gamma: Float, beta: Float, k: Float, m: Float, sg: Float, sgh: Float) {
    typealias V = SIMD8<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    var j = 0
    if relu {
        while j + 8 <= count {
            let hv = load(h + j), gv = adder_relu_gate8(load(g + j), hv, gamma, beta)
            UnsafeMutableRawPointer(dx + j).storeBytes(of: k * (m * gv - sg - hv * sgh), as: V.self)
            j += 8
        }
    } else {
        while j + 8 <= count {
            UnsafeMutableRawPointer(dx + j).storeBytes(of: k * (m * load(g + j) - sg - load(h + j) * sgh), as: V.self)
            j += 8
        }
    }
    while j < count {
        let gj = !relu || reluAffine(gamma, h[j], beta) > 0 ? g[j] : 0
        dx[j] = k * (m * gj - sg - h[j] * sgh)
        j += 1
    }
}

/// `rowSums(g, x̂, count)` with g zeroed where γ·x̂ + β ≤ 0: (Σ g', Σ g'·x̂) of the fused
/// ReLU's gradient g', in the same 8-lane partials.
@inline(__always) func reluRowSums(_ g: UnsafePointer<Float>, _ h: UnsafePointer<Float>, _ count: Int,
                                   scale gamma: Float, shift beta: Float) -> (Double, Double) {
    typealias V = SIMD8<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    var s0 = V(), s1 = V(), q0 = V(), q1 = V()
    var j = 0
    while j + 16 <= count {
        let h0 = load(h + j), h1 = load(h + j + 8)
        let a0 = adder_relu_gate8(load(g + j), h0, gamma, beta), a1 = adder_relu_gate8(load(g + j + 8), h1, gamma, beta)
        s0 += a0; s1 += a1
        q0 = q0.addingProduct(a0, h0); q1 = q1.addingProduct(a1, h1)
        j += 16
    }
    var s = Double((s0 + s1).sum()), q = Double((q0 + q1).sum())
    while j < count { let a = reluAffine(gamma, h[j], beta) > 0 ? Double(g[j]) : 0; s += a; q += a * Double(h[j]); j += 1 }
    return (s, q)
}
