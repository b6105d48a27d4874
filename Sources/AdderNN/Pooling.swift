import AdderCore

/// Max pooling over k×k windows with stride and (−∞) padding; the gradient goes to
/// the first maximum of each window.
public final class MaxPool2d: Layer {
    public let kernel: Int, stride: Int, padding: Int
    public var typeName: String { "MaxPool2d" }
    private let window: Window
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
        window = Window(channels: nil, kernel: kernel, stride: stride ?? kernel, padding: padding)
    }

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] {
        try window.outputShape(for: input, outChannels: nil, layer: "MaxPool2d(\(kernel))")
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let g = window.geometry(for: x.shape, layer: "MaxPool2d(\(kernel))")
        var y = Tensor(uninitializedShape: [g.n, g.c, g.ho, g.wo])
        var idx = [Int32](repeating: 0, count: y.count)
        let planes = g.n * g.c
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                idx.withUnsafeMutableBufferPointer { ib in
                    let xp = xb.baseAddress!, yp = yb.baseAddress!, ip = ib.baseAddress!
                    Parallel.chunks(planes) { lo, hi in
                        if g.kh == 2, g.kw == 2, g.stride == 2, g.padding == 0 {
                            MaxPool2d.forward2x2(xp, yp, ip, g, lo, hi)
                            return
                        }
                        for pl in lo..<hi {
                            let src = xp + pl * g.h * g.w
                            for i in 0..<g.ho {
                                for j in 0..<g.wo {
                                    var best = -Float.infinity, at = -1
                                    for u in 0..<g.kh {
                                        let h = i * g.stride + u - g.padding
                                        if h < 0 || h >= g.h { continue }
                                        for v in 0..<g.kw {
                                            let w = j * g.stride + v - g.padding
                                            if w < 0 || w >= g.w { continue }
                                            let val = src[h * g.w + w]
                                            if val > best || at < 0 { best = val; at = h * g.w + w }
                                        }
                                    }
                                    let o = (pl * g.ho + i) * g.wo + j
                                    yp[o] = best
                                    ip[o] = Int32(at)
                                }
                            }
                        }
                    }
                }
            }
        }
        if training { argmax = idx; inputShape = x.shape }
        return y
    }

    /// The common 2×2, stride 2, unpadded case without per-element bounds checks; the
    /// first maximum in row-major window order wins, as in the general loop.
    static func forward2x2(_ xp: UnsafePointer<Float>, _ yp: UnsafeMutablePointer<Float>, _ ip: UnsafeMutablePointer<Int32>,
                           _ g: ConvGeometry, _ lo: Int, _ hi: Int) {
        for pl in lo..<hi {
            let src = xp + pl * g.h * g.w
            for i in 0..<g.ho {
                let r0 = 2 * i * g.w, r1 = r0 + g.w
                let o = (pl * g.ho + i) * g.wo
                for j in 0..<g.wo {
                    let c = 2 * j
                    var best = src[r0 + c], at = r0 + c
                    if src[r0 + c + 1] > best { best = src[r0 + c + 1]; at = r0 + c + 1 }
                    if src[r1 + c] > best { best = src[r1 + c]; at = r1 + c }
                    if src[r1 + c + 1] > best { best = src[r1 + c + 1]; at = r1 + c + 1 }
                    yp[o + j] = best
                    ip[o + j] = Int32(at)
                }
            }
        }
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        precondition(!inputShape.isEmpty, "MaxPool2d.backward called without a training forward pass")
        var dx = Tensor(shape: inputShape)
        let plane = inputShape[2] * inputShape[3]
        let outPlane = gradOutput.count / Swift.max(inputShape[0] * inputShape[1], 1)
        gradOutput.checkShape([inputShape[0], inputShape[1]] + Array(gradOutput.shape.dropFirst(2)), "MaxPool2d output gradient")
        gradOutput.withUnsafeBufferPointer { gb in
            dx.withUnsafeMutableBufferPointer { db in
                for o in 0..<gradOutput.count {
                    let pl = o / outPlane
                    db[pl * plane + Int(argmax[o])] += gb[o]
                }
            }
        }
        inputShape = []
        return dx
    }
}

/// Global average pooling: N×C×H×W → N×C×1×1.
public final class GlobalAvgPool: Layer {
    public var typeName: String { "GlobalAvgPool" }
    private var inputShape: [Int] = []
    public init() {}

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] {
        guard input.count == 3 else { throw .shapeMismatch(expected: [-1, -1, -1], got: input, context: "GlobalAvgPool per-sample input (C×H×W)") }
        return [input[0], 1, 1]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.shape.count == 4, TensorError.shapeMismatch(expected: [-1, -1, -1, -1], got: x.shape, context: "GlobalAvgPool input (N×C×H×W)").description)
        let planes = x.shape[0] * x.shape[1], plane = x.shape[2] * x.shape[3]
        var y = Tensor(uninitializedShape: [x.shape[0], x.shape[1], 1, 1])
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                for p in 0..<planes {
                    var s: Float = 0
                    for j in 0..<plane { s += xb[p * plane + j] }
                    yb[p] = s / Float(plane)
                }
            }
        }
        if training { inputShape = x.shape }
        return y
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        precondition(!inputShape.isEmpty, "GlobalAvgPool.backward called without a training forward pass")
        gradOutput.checkShape([inputShape[0], inputShape[1], 1, 1], "GlobalAvgPool output gradient")
        let plane = inputShape[2] * inputShape[3]
        var dx = Tensor(uninitializedShape: inputShape)
        gradOutput.withUnsafeBufferPointer { gb in
            dx.withUnsafeMutableBufferPointer { db in
                for p in 0..<gb.count {
                    let v = gb[p] / Float(plane)
                    for j in 0..<plane { db[p * plane + j] = v }
                }
            }
        }
        inputShape = []
        return dx
    }
}
