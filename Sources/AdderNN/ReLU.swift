import AdderCore

/// max(x, 0); the gradient passes where the output is positive.
public final class ReLU: Layer {
    public var typeName: String { "ReLU" }
    private(set) var savedOutput: Tensor?
    public init() {}

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] { input }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var y = x
        y.withUnsafeMutableBufferPointer { b in
            let p = b.baseAddress!
            // A select, not a conditional store: it vectorizes, and a branch on the
            // sign of activations mispredicts about half the time.
            Parallel.chunks(b.count, minChunk: 1 << 16) { lo, hi in for i in lo..<hi { let v = p[i]; p[i] = v > 0 ? v : 0 } }
        }
        if training { savedOutput = y }
        return y
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let y = savedOutput else { preconditionFailure("ReLU.backward called without a training forward pass") }
        gradOutput.checkShape(y.shape, "ReLU output gradient")
        var dx = gradOutput
        y.withUnsafeBufferPointer { yb in
            dx.withUnsafeMutableBufferPointer { d in
                let yp = yb.baseAddress!, dp = d.baseAddress!
                Parallel.chunks(d.count, minChunk: 1 << 16) { lo, hi in for i in lo..<hi { dp[i] = yp[i] > 0 ? dp[i] : 0 } }
            }
        }
        savedOutput = nil
        return dx
    }
}

/// N×C×H×W → N×(C·H·W).
public final class Flatten: Layer {
    public var typeName: String { "Flatten" }
    private var savedShape: [Int] = []
    public init() {}

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] { [input.reduce(1, *)] }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        savedShape = x.shape
        return x.reshapedOrDie([x.shape.first ?? 0, x.count / Swift.max(x.shape.first ?? 1, 1)])
    }

    public func backward(_ gradOutput: Tensor) -> Tensor { gradOutput.reshapedOrDie(savedShape) }
}
