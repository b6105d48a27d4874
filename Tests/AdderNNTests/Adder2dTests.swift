import Testing
import AdderTestSupport
import AdderCore
@testable import AdderNN

/// The paper's full-precision and HardTanh rules are not the derivative of the
/// forward pass, so they are checked against the formulas of DESIGN.md §1 on cases
/// small enough to work out by hand (the working is in the comments).
@Suite("Adder2d rules on hand-computed cases")
struct AdderRuleTests {
    func t(_ shape: [Int], _ v: [Float]) -> Tensor { try! Tensor(shape: shape, values: v) }

    func adder(_ cin: Int, _ cout: Int, k: Int, stride: Int = 1, padding: Int = 0, weight: [Float],
               filter: AdderKernels.FilterRule = .fullPrecision, input: AdderKernels.InputRule = .hardTanh) -> Adder2d {
        var g = SeededGenerator(seed: 0)
        let a = Adder2d(inputChannels: cin, outputChannels: cout, kernelSize: k, stride: stride, padding: padding, filterRule: filter, inputRule: input, generator: &g)
        a.weight.value = t([cout, cin, k, k], weight)
        return a
    }

    // X = [[1,2,0],[0,3,1],[2,0,1]], F = [[0.5,1],[2,0]], G = [[1,2],[-1,0.5]].
    let x3 = [Float]([1, 2, 0, 0, 3, 1, 2, 0, 1])
    let f2 = [Float]([0.5, 1, 2, 0])
    let g2 = [Float]([1, 2, -1, 0.5])

    /// Stride 1, no padding. Patches and X − F:
    ///   p00 [[1,2],[0,3]] → [[ .5, 1],[-2,3]]  Σ|·| 6.5
    ///   p01 [[2,0],[3,1]] → [[1.5,-1],[ 1,1]]  Σ|·| 4.5
    ///   p10 [[0,3],[2,0]] → [[-.5, 2],[ 0,0]]  Σ|·| 2.5
    ///   p11 [[3,1],[0,1]] → [[2.5, 0],[-2,1]]  Σ|·| 5.5
    /// ∂L/∂F = Σ G·(X−F): tap00 .5+3+.5+1.25 = 5.25; tap01 1−2−2+0 = −3; tap10 −2+2+0−1 = −1; tap11 3+2+0+.5 = 5.5.
    /// ∂L/∂X = Σ G·clamp(F−X): G-weighted clamped patches
    ///   p00·1 [[-.5,-1],[1,-1]], p01·2 [[-2,2],[-2,-2]], p10·(−1) [[-.5,1],[0,0]], p11·.5 [[-.5,0],[.5,-.5]]
    /// summed onto the 3×3 grid: [[-.5,-3,2],[.5,-2.5,-2],[0,.5,-.5]].
    @Test func strideOneNoPadding() {
        let a = adder(1, 1, k: 2, weight: f2)
        let y = a.forward(t([1, 1, 3, 3], x3), training: true)
        #expect(y.values == [-6.5, -4.5, -2.5, -5.5])
        let dx = a.backward(t([1, 1, 2, 2], g2))
        #expect(a.weight.grad.values == [5.25, -3, -1, 5.5])
        #expect(dx.values == [-0.5, -3, 2, 0.5, -2.5, -2, 0, 0.5, -0.5])
    }

    /// Stride 2, padding 1: the padded 5×5 input has X in rows/cols 1…3. Patches (padded zeros count):
    ///   o00 [[0,0],[0,1]] → X̃−F [[-.5,-1],[-2,1]]  Σ|·| 4.5
    ///   o01 [[0,0],[2,0]] → [[-.5,-1],[0,0]]        Σ|·| 1.5
    ///   o10 [[0,0],[0,2]] → [[-.5,-1],[-2,2]]       Σ|·| 5.5
    ///   o11 [[3,1],[0,1]] → [[2.5,0],[-2,1]]        Σ|·| 5.5
    /// ∂L/∂F: tap00 −.5−1+.5+1.25 = .25; tap01 −1−2+1+0 = −2; tap10 −2+0+2−1 = −1; tap11 1+0−2+.5 = −.5.
    /// ∂L/∂X only from taps on real pixels: X00 ← o00 tap11: 1·clamp(0−1) = −1;
    ///   X01 ← o01 tap10: 2·clamp(2−2) = 0; X02 ← o01 tap11: 2·clamp(0−0) = 0;
    ///   X10 ← o10 tap01: −1·clamp(1−0) = −1; X20 ← o10 tap11: −1·clamp(0−2) = 1;
    ///   X11 ← o11 tap00: .5·clamp(.5−3) = −.5; X12 ← o11 tap01: .5·clamp(1−1) = 0;
    ///   X21 ← o11 tap10: .5·clamp(2−0) = .5; X22 ← o11 tap11: .5·clamp(0−1) = −.5.
    @Test func strideTwoPaddingOne() {
        let a = adder(1, 1, k: 2, stride: 2, padding: 1, weight: f2)
        let y = a.forward(t([1, 1, 3, 3], x3), training: true)
        #expect(y.values == [-4.5, -1.5, -5.5, -5.5])
        let dx = a.backward(t([1, 1, 2, 2], g2))
        #expect(a.weight.grad.values == [0.25, -2, -1, -0.5])
        #expect(dx.values == [-1, 0, 0, -1, -0.5, 0, 1, 0.5, -0.5])
    }

    /// 1×1 kernel, two channels, two filters. X ch0 = [1,−2], ch1 = [.5,3]; f0 = [0,1], f1 = [2,−1];
    /// G t0 = [1,−1], t1 = [.5,2].
    /// Y t0 = −[|1−0|+|.5−1|, |−2−0|+|3−1|] = [−1.5, −4]; t1 = −[|1−2|+|.5+1|, |−2−2|+|3+1|] = [−2.5, −8].
    /// Full precision ∂L/∂F: f0c0 1·1+(−1)(−2) = 3; f0c1 1(−.5)+(−1)(2) = −2.5;
    ///   f1c0 .5(−1)+2(−4) = −8.5; f1c1 .5(1.5)+2(4) = 8.75.
    /// Sign ∂L/∂F: f0c0 1+1 = 2; f0c1 −1−1 = −2; f1c0 −.5−2 = −2.5; f1c1 .5+2 = 2.5.
    /// HardTanh ∂L/∂X: X0[0] 1·clamp(−1)+.5·clamp(1) = −.5; X0[1] −1·clamp(2)+2·clamp(4) = 1;
    ///   X1[0] 1·clamp(.5)+.5·clamp(−1.5) = 0; X1[1] −1·clamp(−2)+2·clamp(−4) = −1.
    /// Identity ∂L/∂X: X0[0] −1+.5 = −.5; X0[1] −2+8 = 6; X1[0] .5−.75 = −.25; X1[1] 2−8 = −6.
    /// Sign ∂L/∂X: X0[0] −1+.5 = −.5; X0[1] −1+2 = 1; X1[0] 1−.5 = .5; X1[1] 1−2 = −1.
    @Test func oneByOneKernelAllRules() {
        let x = t([1, 2, 1, 2], [1, -2, 0.5, 3])
        let g = t([1, 2, 1, 2], [1, -1, 0.5, 2])
        let cases: [(AdderKernels.FilterRule, AdderKernels.InputRule, [Float], [Float])] = [
            (.fullPrecision, .hardTanh, [3, -2.5, -8.5, 8.75], [-0.5, 1, 0, -1]),
            (.fullPrecision, .identity, [3, -2.5, -8.5, 8.75], [-0.5, 6, -0.25, -6]),
            (.sign, .sign, [2, -2, -2.5, 2.5], [-0.5, 1, 0.5, -1]),
        ]
        for (fr, ir, dF, dX) in cases {
            let a = adder(2, 2, k: 1, weight: [0, 1, 2, -1], filter: fr, input: ir)
            #expect(a.forward(x, training: true).values == [-1.5, -4, -2.5, -8])
            let dx = a.backward(g)
            #expect(a.weight.grad.values == dF, "\(fr) filter gradient")
            #expect(dx.values == dX, "\(ir) input gradient")
        }
    }

    /// The rules can change between steps and take effect at the next backward.
    @Test func rulesFlipBetweenSteps() {
        let a = adder(2, 2, k: 1, weight: [0, 1, 2, -1])
        let x = t([1, 2, 1, 2], [1, -2, 0.5, 3]), g = t([1, 2, 1, 2], [1, -1, 0.5, 2])
        _ = a.forward(x, training: true); _ = a.backward(g)
        #expect(a.weight.grad.values == [3, -2.5, -8.5, 8.75])
        a.filterRule = .sign; a.inputRule = .sign
        _ = a.forward(x, training: true); _ = a.backward(g)
        #expect(a.weight.grad.values == [2, -2, -2.5, 2.5])
    }
}

/// The layers cut the batch into blocks of images (a partial one last); the result
/// must equal one unfolding of the whole batch, whatever the thread count.
@Suite("Blocked unfolding")
struct BlockedUnfoldingTests {
    @Test(arguments: [1, 2])
    func blocksMatchTheWholeBatch(threads: Int) throws {
        try Parallel.withThreads(threads) {
            var gen = SeededGenerator(seed: 40)
            let n = 11, c = 3, h = 4, w = 5, t = 7   // t = 7: a full register block of filters and a remainder
            let x = Tensor.normal(shape: [n, c, h, w], generator: &gen)
            let layers: [UnfoldedLayer] = [Adder2d(inputChannels: c, outputChannels: t, kernelSize: 3, padding: 1, generator: &gen),
                                           Conv2d(inputChannels: c, outputChannels: t, kernelSize: 3, padding: 1, generator: &gen),
                                           Conv2d(inputChannels: c, outputChannels: t, kernelSize: 3, stride: 2, padding: 1, generator: &gen)]
            for layer in layers {
                let geometry = try ConvGeometry(n: n, c: c, h: h, w: w, kh: 3, kw: 3, stride: layer.stride, padding: 1)
                #expect(layer.imagesPerBlock(geometry) > 1 && n % layer.imagesPerBlock(geometry) != 0, "a partial block is exercised")
                let y = layer.forward(x, training: true)
                let gy = Tensor.normal(shape: y.shape, generator: &gen)
                let dx = layer.backward(gy)
                // Reference: the whole batch in one K × P matrix, through the same column kernels.
                let K = geometry.k, P = geometry.p, plane = geometry.ho * geometry.wo
                var cols = [Float](repeating: 0, count: K * P), ycol = [Float](repeating: 0, count: t * P)
                var gcol = [Float](repeating: 0, count: t * P), dcol = [Float](repeating: 0, count: K * P)
                var dw = [Float](repeating: 0, count: t * K), dxRef = [Float](repeating: 0, count: x.count)
                let wv = layer.weight.value.values
                x.values.withUnsafeBufferPointer { Unfold.im2col($0.baseAddress!, geometry, into: &cols) }
                layer.kernels.forward(w: wv, x: cols, y: &ycol, t: t, k: K, p: P)
                var yRef = [Float](repeating: 0, count: y.count)
                Unfold.columnsToNCHW(ycol, into: &yRef, n: n, t: t, plane: plane)
                Unfold.nchwToColumns(gy.values, into: &gcol, n: n, t: t, plane: plane)
                layer.kernels.filterGradient(w: wv, x: cols, g: gcol, dw: &dw, t: t, k: K, p: P)
                layer.kernels.inputGradient(w: wv, x: cols, g: gcol, dx: &dcol, t: t, k: K, p: P)
                Unfold.col2im(dcol, geometry, into: &dxRef)
                #expect(maxDifference(y.values, yRef) < 1e-5, "\(layer.typeName) forward")
                #expect(maxDifference(layer.weight.grad.values, dw) < 1e-4, "\(layer.typeName) filter gradient")
                #expect(maxDifference(dx.values, dxRef) < 1e-5, "\(layer.typeName) input gradient")
            }
        }
    }
}
