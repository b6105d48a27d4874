import Testing
import AdderCore
@testable import AdderNN

/// Central finite differences of L = Σ R ⊙ layer(x) against the layer's backward.
///
/// The layers compute in Float32. With inputs of order 1, outputs of order ≤ 10 and
/// h = 1e-2, the rounding error of a difference quotient is about
/// Σ|R|·ulp(10)/h ≈ (N outputs)·1e-6/1e-2, i.e. ≤ 1e-3 for these sizes, while the
/// truncation error of the central difference is O(h²·f‴) ≈ 1e-4 for smooth layers
/// (and zero for piecewise-linear ones away from their kinks). So we accept
/// |numeric − analytic| ≤ 2e-3 + 2e-2·|analytic|; a wrong formula misses by O(1).
struct GradientChecker {
    var atol: Double = 2e-3
    var rtol: Double = 2e-2
    var h: Float = 1e-2
    var samples = 40
    /// For networks with ReLUs: the on/off pattern of every ReLU after the last forward
    /// pass. A sample whose ±h perturbation flips any unit straddles a kink, where a
    /// difference quotient does not measure the derivative; it is skipped, and at least
    /// half the samples must remain.
    var activePattern: (() -> [Bool])?

    func loss(_ y: Tensor, _ r: Tensor) -> Double {
        zip(y.values, r.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Checks ∂L/∂x and ∂L/∂θ for every parameter of `layer` at `x`.
    func check(_ layer: any Layer, input x: Tensor, file: String = #fileID, line: Int = #line) {
        var g = SeededGenerator(seed: 99)
        let y = layer.forward(x, training: true)
        let r = Tensor.normal(shape: y.shape, generator: &g)
        let dx = layer.backward(r)
        let params = layer.namedParameters().filter { $0.1.isTrainable }
        let analyticParams = params.map { $0.1.grad }
        let f: () -> Double = { self.loss(layer.forward(x, training: true), r) }
        compare(name: "input", analytic: dx, count: x.count, generator: &g) { i, delta in
            var xp = x
            xp.withUnsafeMutableBufferPointer { $0[i] += delta }
            return self.loss(layer.forward(xp, training: true), r)
        }
        for ((name, p), analytic) in zip(params, analyticParams) {
            compare(name: name, analytic: analytic, count: p.value.count, generator: &g) { i, delta in
                let saved = p.value
                p.value.withUnsafeMutableBufferPointer { $0[i] += delta }
                defer { p.value = saved }
                return f()
            }
        }
    }

    private func compare(name: String, analytic: Tensor, count: Int, generator g: inout SeededGenerator,
                         perturbed: (Int, Float) -> Double) {
        let indices = count <= samples ? Array(0..<count) : (0..<samples).map { _ in Int(g.next() % UInt64(count)) }
        let a = analytic.values
        var skipped = 0
        for i in indices {
            let base = activePattern.map { _ = perturbed(i, 0); return $0() }
            let up = perturbed(i, h)
            let upPattern = activePattern?()
            let down = perturbed(i, -h)
            if let base, base != upPattern || base != activePattern?() { skipped += 1; continue }
            let numeric = (up - down) / Double(2 * h)
            let err = abs(numeric - Double(a[i]))
            #expect(err <= atol + rtol * abs(Double(a[i])), "\(name)[\(i)]: numeric \(numeric), analytic \(a[i])")
        }
        #expect(skipped * 2 <= indices.count, "\(name): \(skipped) of \(indices.count) samples straddled a ReLU kink")
    }
}

func normalTensor(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return .normal(shape: shape, std: std, generator: &g)
}

@Suite("Finite-difference gradient checks")
struct GradientCheckTests {
    @Test func conv2d() {
        var g = SeededGenerator(seed: 1)
        for (k, s, p) in [(3, 1, 1), (3, 2, 1), (1, 1, 0), (2, 2, 0)] {
            let conv = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: k, stride: s, padding: p, bias: true, generator: &g)
            GradientChecker().check(conv, input: normalTensor([2, 3, 5, 5], seed: 2))
        }
    }

    @Test func linear() {
        var g = SeededGenerator(seed: 3)
        GradientChecker().check(Linear(inputFeatures: 7, outputFeatures: 5, generator: &g), input: normalTensor([4, 7], seed: 4))
    }

    /// Adder outputs are large negative numbers with a comparatively small spread; the
    /// batch statistics must stay accurate there (E[x²] − E[x]² about 0 would not be).
    @Test func batchNormStatisticsFarFromZero() {
        let bn = BatchNorm(channels: 2)
        var x = normalTensor([6, 2, 5, 7], seed: 41, std: 0.3)
        x.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] -= 500 } }
        let y = bn.forward(x, training: true)
        let v = x.values, plane = 35
        for c in 0..<2 {
            var values: [Double] = []
            for i in 0..<6 { for j in 0..<plane { values.append(Double(v[(i * 2 + c) * plane + j])) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            #expect(abs(Double(bn.batchMean[c]) - mean) < 1e-3, "channel \(c) mean")
            #expect(abs(Double(bn.batchVariance[c]) / variance - 1) < 1e-3, "channel \(c) variance \(bn.batchVariance[c]) vs \(variance)")
            var ys: [Double] = []
            for i in 0..<6 { for j in 0..<plane { ys.append(Double(y.values[(i * 2 + c) * plane + j])) } }
            let ym = ys.reduce(0, +) / Double(ys.count)
            let yv = ys.map { ($0 - ym) * ($0 - ym) }.reduce(0, +) / Double(ys.count)
            #expect(abs(ym) < 2e-3 && abs(yv - 1) < 2e-3, "channel \(c) normalised: mean \(ym), variance \(yv)")
        }
    }

    /// Recalibration: after k training forwards the running statistics are the plain mean
    /// of the k batches' means and of their unbiased variances (not the 0.1-momentum
    /// average), and the momentum is back for the next training forward.
    @Test func batchNormRecalibrationAveragesTheBatches() {
        let bn = BatchNorm(channels: 2)
        let batches = [normalTensor([4, 2, 3, 3], seed: 51, std: 2), normalTensor([4, 2, 3, 3], seed: 52, std: 0.5), normalTensor([4, 2, 3, 3], seed: 53)]
        var means: [[Double]] = [], variances: [[Double]] = []
        for x in batches {
            _ = BatchNorm(channels: 2).forward(x, training: true)
            let v = x.values
            var m: [Double] = [], u: [Double] = []
            for c in 0..<2 {
                var values: [Double] = []
                for i in 0..<4 { for j in 0..<9 { values.append(Double(v[(i * 2 + c) * 9 + j])) } }
                let mean = values.reduce(0, +) / 36
                m.append(mean); u.append(values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 35)
            }
            means.append(m); variances.append(u)
        }
        bn.beginRecalibration()
        for x in batches { _ = bn.forward(x, training: true) }
        bn.endRecalibration()
        for c in 0..<2 {
            let mean = means.map { $0[c] }.reduce(0, +) / 3, variance = variances.map { $0[c] }.reduce(0, +) / 3
            #expect(abs(Double(bn.runningMean.value.values[c]) - mean) < 1e-5, "channel \(c) mean")
            #expect(abs(Double(bn.runningVariance.value.values[c]) / variance - 1) < 1e-5, "channel \(c) variance")
        }
        let before = bn.runningMean.value.values[0]
        _ = bn.forward(batches[0], training: true)
        #expect(abs(bn.runningMean.value.values[0] - (0.9 * before + 0.1 * Float(means[0][0]))) < 1e-5, "momentum 0.1 again")
    }

    @Test func batchNormTrainingMode() {
        // The loss couples every element of a channel through the batch statistics.
        let bn2 = BatchNorm(channels: 3)
        bn2.scale.value = (try? Tensor(shape: [3], values: [1.5, -0.7, 0.9]))!
        bn2.shift.value = (try? Tensor(shape: [3], values: [0.1, 0.2, -0.3]))!
        GradientChecker().check(bn2, input: normalTensor([4, 3, 3, 3], seed: 5, std: 2))
        GradientChecker().check(BatchNorm(channels: 5, dimensions: 1), input: normalTensor([6, 5], seed: 6))
    }

    @Test func relu() {
        GradientChecker(h: 1e-3).check(ReLU(), input: normalTensor([3, 4, 5], seed: 7))
    }

    @Test func maxPool() {
        GradientChecker(h: 1e-3).check(MaxPool2d(kernel: 2), input: normalTensor([2, 3, 6, 6], seed: 8))
        GradientChecker(h: 1e-3).check(MaxPool2d(kernel: 3, stride: 2, padding: 1), input: normalTensor([2, 2, 7, 7], seed: 9))
    }

    @Test func globalAvgPool() {
        GradientChecker().check(GlobalAvgPool(), input: normalTensor([2, 3, 4, 5], seed: 10))
    }

    @Test func softmaxCrossEntropy() {
        let logits = normalTensor([5, 7], seed: 11, std: 3)
        let labels = [0, 3, 6, 2, 2]
        let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels)
        let h: Float = 1e-2
        for i in 0..<logits.count {
            var p = logits, m = logits
            p.withUnsafeMutableBufferPointer { $0[i] += h }
            m.withUnsafeMutableBufferPointer { $0[i] -= h }
            let numeric = (Double(SoftmaxCrossEntropy.evaluate(logits: p, labels: labels).loss)
                - Double(SoftmaxCrossEntropy.evaluate(logits: m, labels: labels).loss)) / Double(2 * h)
            #expect(abs(numeric - Double(result.gradient.values[i])) < 1e-3, "logit \(i)")
        }
    }

    @Test func basicBlockWithDownsampling() {
        let b = ModelBuilder(placement: .cnn, seed: 12)
        for (block, input) in [(b.basicBlock(3, 4, stride: 2), normalTensor([2, 3, 6, 6], seed: 13)),
                               (b.basicBlock(4, 4, stride: 1), normalTensor([2, 4, 4, 4], seed: 14))] {
            let relus = block.namedLayers().compactMap { $0.1 as? ReLU } + [block.relu]
            var checker = GradientChecker(h: 2e-3, samples: 60)
            checker.atol = 5e-3
            checker.activePattern = { relus.flatMap { $0.savedOutput?.values.map { $0 > 0 } ?? [] } }
            checker.check(block, input: input)
        }
    }

    /// In sign mode the adder layer's rules are the exact (sub)gradient of −Σ|x − f|,
    /// so finite differences must agree wherever no |x − f| is near zero. Inputs sit
    /// on the grid 0.25·ℤ + 0.125 and filters on 0.25·ℤ + 0.0625, so every difference,
    /// including against padded zeros, is at least 0.0625 ≫ h away from a kink.
    @Test func adderSignModeAwayFromKinks() {
        var g = SeededGenerator(seed: 15)
        func grid(_ shape: [Int], offset: Float) -> Tensor {
            var t = Tensor(shape: shape)
            t.withUnsafeMutableBufferPointer { b in
                for i in b.indices { b[i] = Float(Int(g.next() % 13) - 6) * 0.25 + offset }
            }
            return t
        }
        for (k, s, p) in [(3, 1, 1), (3, 2, 1), (1, 1, 0), (2, 2, 0)] {
            let adder = Adder2d(inputChannels: 3, outputChannels: 4, kernelSize: k, stride: s, padding: p, bias: true, filterRule: .sign, inputRule: .sign, generator: &g)
            adder.weight.value = grid(adder.weight.value.shape, offset: 0.0625)
            GradientChecker(h: 1e-2).check(adder, input: grid([2, 3, 5, 5], offset: 0.125))
        }
    }
}
