import AdderCore

/// max(x, 0); the gradient passes where the output is positive.
public final class ReLU: Layer {
    public var typeName: String { "ReLU" }
    private(set) var savedOutput: Tensor?
    /// Applied by the batch norm before it (`fuseBatchNormReLU`): forward and backward
    /// pass their tensor through unchanged.
    public internal(set) var fusedIntoBatchNorm = false
    public init() {}

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] { input }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        if fusedIntoBatchNorm {
            if training { savedOutput = x }   // already max(·, 0); kept (not copied) for inspection, as unfused
            return x
        }
        // Out of place, one pass: the input is usually still referenced (by the layer
        // before, for its backward), so an in-place update would first copy it.
        var y = Tensor(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                // A select, not a conditional store: it vectorizes, and a branch on the
                // sign of activations mispredicts about half the time.
                Parallel.chunks(yb.count, minChunk: 1 << 16) { lo, hi in for i in lo..<hi { let v = xp[i]; yp[i] = v > 0 ? v : 0 } }
            }
        }
        if training { savedOutput = y }
        return y
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let y = savedOutput else { preconditionFailure("ReLU.backward called without a training forward pass") }
        gradOutput.checkShape(y.shape, "ReLU output gradient")
        if fusedIntoBatchNorm { savedOutput = nil; return gradOutput }
        var dx = Tensor(uninitializedShape: y.shape)
        y.withUnsafeBufferPointer { yb in
            gradOutput.withUnsafeBufferPointer { gb in
                dx.withUnsafeMutableBufferPointer { d in
                    guard let yp = yb.baseAddress, let gp = gb.baseAddress, let dp = d.baseAddress else { return }
                    Parallel.chunks(d.count, minChunk: 1 << 16) { lo, hi in for i in lo..<hi { dp[i] = yp[i] > 0 ? gp[i] : 0 } }
                }
            }
        }
        savedOutput = nil
        return dx
    }
}

/// Fuses each batch norm directly followed by a ReLU in `layers` (a container's children,
/// in order): the batch norm applies the ReLU in its own passes, forward and backward, and
/// the ReLU passes values through. The pair computes what it computed unfused, bit for bit;
/// `Sequential` and `Residual` call this on their layers when they are made.
func fuseBatchNormReLU(_ layers: [any Layer]) {
    for (a, b) in zip(layers, layers.dropFirst()) {
        guard let bn = a as? BatchNorm, let relu = b as? ReLU else { continue }
        bn.fusedReLU = true
        relu.fusedIntoBatchNorm = true
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
