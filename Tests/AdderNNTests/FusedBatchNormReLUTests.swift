import Testing
import AdderCore
import AdderTestSupport
@testable import AdderNN

/// Batch norm with the ReLU after it fused in (`fuseBatchNormReLU`).
@Suite("Fused batch norm + ReLU")
struct FusedBatchNormReLUTests {
    /// A batch norm with γ of both signs and β ≠ 0, so that the ReLU cuts a part of every channel.
    static func batchNorm(_ channels: Int, dimensions: Int) -> BatchNorm {
        let bn = BatchNorm(channels: channels, dimensions: dimensions)
        bn.scale.value = (try? Tensor(shape: [channels], values: (0..<channels).map { Float($0 % 2 == 0 ? 1.3 : -0.8) + 0.1 * Float($0) }))!
        bn.shift.value = (try? Tensor(shape: [channels], values: (0..<channels).map { 0.3 - 0.2 * Float($0) }))!
        return bn
    }

    static let shapes: [[Int]] = [[4, 3, 5, 7], [6, 5], [3, 2, 19, 3]]

    /// Inside a container the pair is fused, and computes what the two layers compute one
    /// after the other: outputs (training, running and batch statistics in evaluation), the
    /// input gradient and γ's and β's gradients, bit for bit.
    @Test(arguments: shapes)
    func fusedEqualsUnfused(shape: [Int]) {
        let dims = shape.count == 2 ? 1 : 2
        let (bnA, reluA) = (Self.batchNorm(shape[1], dimensions: dims), ReLU())
        let bnB = Self.batchNorm(shape[1], dimensions: dims), reluB = ReLU()
        let fused = Sequential([bnB, reluB])
        #expect(!bnA.fusedReLU && !reluA.fusedIntoBatchNorm && bnB.fusedReLU && reluB.fusedIntoBatchNorm)
        let x = normalTensor(shape, seed: 21, std: 2), g = normalTensor(shape, seed: 22)
        for _ in 0..<2 {   // twice: the running statistics move
            let yA = reluA.forward(bnA.forward(x, training: true), training: true)
            let yB = fused.forward(x, training: true)
            #expect(yA.values == yB.values)
            let dxA = bnA.backward(reluA.backward(g)), dxB = fused.backward(g)
            #expect(dxA.values == dxB.values)
            #expect(bnA.scale.grad.values == bnB.scale.grad.values && bnA.shift.grad.values == bnB.shift.grad.values)
        }
        #expect(bnA.runningMean.value.values == bnB.runningMean.value.values)
        #expect(reluA.forward(bnA.forward(x, training: false), training: false).values == fused.forward(x, training: false).values)
        bnA.evaluateWithBatchStatistics = true; bnB.evaluateWithBatchStatistics = true
        #expect(reluA.forward(bnA.forward(x, training: false), training: false).values == fused.forward(x, training: false).values)
    }

    /// Against a plain scalar reference in Double: y = max(γ·(x − μ)/σ + β, 0), and backward
    /// through the ReLU's mask and the batch statistics.
    @Test(arguments: shapes)
    func againstScalarReference(shape: [Int]) {
        let dims = shape.count == 2 ? 1 : 2
        let bn = Self.batchNorm(shape[1], dimensions: dims)
        let layer = Sequential([bn, ReLU()])
        let x = normalTensor(shape, seed: 23, std: 2), g = normalTensor(shape, seed: 24)
        let y = layer.forward(x, training: true), dx = layer.backward(g)
        let (ry, rdx, rdgamma, rdbeta) = Self.reference(x: x.values, g: g.values, shape: shape,
                                                        gamma: bn.scale.value.values, beta: bn.shift.value.values)
        #expect(relativeError(y.values, ry) < 1e-5)
        #expect(relativeError(dx.values, rdx) < 1e-5)
        #expect(relativeError(bn.scale.grad.values, rdgamma) < 1e-5)
        #expect(relativeError(bn.shift.grad.values, rdbeta) < 1e-5)
    }

    /// The pair's backward against central finite differences, away from the ReLU's kink.
    @Test func finiteDifferences() {
        for shape in [[4, 3, 3, 3], [6, 5]] {
            let relu = ReLU()
            let layer = Sequential([Self.batchNorm(shape[1], dimensions: shape.count == 2 ? 1 : 2), relu])
            var checker = GradientChecker(h: 2e-3, samples: 60)
            checker.atol = 5e-3
            checker.activePattern = { relu.savedOutput?.values.map { $0 > 0 } ?? [] }
            checker.check(layer, input: normalTensor(shape, seed: 25, std: 2))
        }
    }

    /// Which batch norms the models fuse: each one a ReLU follows in the same container
    /// (a residual block's second batch norm is followed by the addition instead).
    @Test func modelsFuseTheirPairs() {
        let lenet = Model(.lenet5).root.namedLayers().compactMap { n, l in (l as? BatchNorm)?.fusedReLU == true ? n : nil }
        #expect(lenet == ["bn1", "bn2", "bn3", "bn4"])
        let resnet = Model(.resnet20).root.namedLayers().compactMap { n, l in (l as? BatchNorm)?.fusedReLU == true ? n : nil }
        #expect(resnet == ["bn1"] + (1...3).flatMap { s in (0..<3).map { "layer\(s).\($0).bn1" } })
        let unfused = Model(.resnet20).root.namedLayers().compactMap { n, l in (l as? BatchNorm)?.fusedReLU == false ? n : nil }
        var expected: [String] = []
        for s in 1...3 {
            for b in 0..<3 { expected += ["layer\(s).\(b).bn2"] + (s > 1 && b == 0 ? ["layer\(s).\(b).shortcut.1"] : []) }
        }
        #expect(unfused == expected)
    }

    /// Batch norm (training statistics, biased variance, ε = 1e-5) then ReLU, and its backward, in Double.
    static func reference(x: [Float], g: [Float], shape: [Int], gamma: [Float], beta: [Float]) -> ([Float], [Float], [Float], [Float]) {
        let n = shape[0], c = shape[1], plane = shape.dropFirst(2).reduce(1, *), m = Double(n * plane)
        var y = [Float](repeating: 0, count: x.count), dx = y
        var dgamma = [Float](repeating: 0, count: c), dbeta = dgamma
        for ch in 0..<c {
            let idx = (0..<n).flatMap { i in (0..<plane).map { (i * c + ch) * plane + $0 } }
            let mean = idx.reduce(0.0) { $0 + Double(x[$1]) } / m
            let variance = idx.reduce(0.0) { $0 + (Double(x[$1]) - mean) * (Double(x[$1]) - mean) } / m
            let istd = 1 / (variance + 1e-5).squareRoot()
            let h = idx.map { (Double(x[$0]) - mean) * istd }
            let pre = h.map { Double(gamma[ch]) * $0 + Double(beta[ch]) }
            let gp = zip(idx, pre).map { i, v in v > 0 ? Double(g[i]) : 0 }   // ∂L/∂(γx̂ + β)
            let sg = gp.reduce(0, +), sgh = zip(gp, h).reduce(0.0) { $0 + $1.0 * $1.1 }
            for (j, i) in idx.enumerated() {
                y[i] = Float(max(pre[j], 0))
                dx[i] = Float(Double(gamma[ch]) * istd / m * (m * gp[j] - sg - h[j] * sgh))
            }
            dgamma[ch] = Float(sgh); dbeta[ch] = Float(sg)
        }
        return (y, dx, dgamma, dbeta)
    }
}
