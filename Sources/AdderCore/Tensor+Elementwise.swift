extension Tensor {
    /// Elementwise a + b; the shapes must match.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        var out = a
        out.add(b)
        return out
    }

    /// self += other, elementwise; the shapes must match.
    public mutating func add(_ other: Tensor, scaledBy alpha: Float = 1) {
        other.checkShape(shape, "Tensor.add")
        other.withUnsafeBufferPointer { o in
            withUnsafeMutableBufferPointer { s in
                let sp = s.baseAddress!, op = o.baseAddress!
                Parallel.chunks(s.count, minChunk: 1 << 16) { lo, hi in
                    for i in lo..<hi { sp[i] += alpha * op[i] }
                }
            }
        }
    }

    /// self *= alpha.
    public mutating func scale(by alpha: Float) {
        withUnsafeMutableBufferPointer { s in for i in s.indices { s[i] *= alpha } }
    }

    /// Sets every element to `value`.
    public mutating func fill(_ value: Float) {
        withUnsafeMutableBufferPointer { s in s.initialize(repeating: value) }
    }

    /// Σ x, accumulated in Double.
    public func sum() -> Double {
        withUnsafeBufferPointer { b in var s = 0.0; for v in b { s += Double(v) }; return s }
    }

    /// Σ x², accumulated in Double.
    public func sumOfSquares() -> Double {
        withUnsafeBufferPointer { b in var s = 0.0; for v in b { s += Double(v) * Double(v) }; return s }
    }

    /// ‖x‖₂.
    public func l2Norm() -> Double { sumOfSquares().squareRoot() }

    /// Mean and (population) standard deviation of the elements; chunks are summed in
    /// Float and combined in Double, in parallel for large tensors.
    public func meanAndStd() -> (mean: Double, std: Double) {
        guard count > 0 else { return (0, 0) }
        let chunk = 1 << 14
        let parts = (count + chunk - 1) / chunk
        var partial = [Double](repeating: 0, count: 2 * parts)
        withUnsafeBufferPointer { b in
            partial.withUnsafeMutableBufferPointer { pb in
                let bp = b.baseAddress!, out = pb.baseAddress!, n = b.count
                Parallel.chunks(parts, minChunk: 8) { lo, hi in
                    for c in lo..<hi {
                        var s: Float = 0, ss: Float = 0
                        for i in (c * chunk)..<Swift.min(n, (c + 1) * chunk) { let v = bp[i]; s += v; ss += v * v }
                        out[2 * c] = Double(s); out[2 * c + 1] = Double(ss)
                    }
                }
            }
        }
        var s = 0.0, ss = 0.0
        for c in 0..<parts { s += partial[2 * c]; ss += partial[2 * c + 1] }
        let m = s / Double(count)
        return (m, Swift.max(0, ss / Double(count) - m * m).squareRoot())
    }

    /// True when every element is finite.
    public var isFinite: Bool {
        withUnsafeBufferPointer { b in b.allSatisfy { $0.isFinite } }
    }
}
