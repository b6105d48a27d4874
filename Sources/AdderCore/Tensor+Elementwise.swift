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
        let n = count
        other.withUnsafeBufferPointer { o in
            withUnsafeMutableBufferPointer { s in
                for i in 0..<n { s[i] += alpha * o[i] }
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

    /// Mean and (population) standard deviation of the elements.
    public func meanAndStd() -> (mean: Double, std: Double) {
        guard count > 0 else { return (0, 0) }
        let (s, ss) = withUnsafeBufferPointer { b -> (Double, Double) in
            var s = 0.0, ss = 0.0
            for v in b { let d = Double(v); s += d; ss += d * d }
            return (s, ss)
        }
        let m = s / Double(count)
        return (m, Swift.max(0, ss / Double(count) - m * m).squareRoot())
    }

    /// True when every element is finite.
    public var isFinite: Bool {
        withUnsafeBufferPointer { b in b.allSatisfy { $0.isFinite } }
    }
}
