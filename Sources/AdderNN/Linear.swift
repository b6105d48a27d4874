import AdderCore

/// y = x·Wᵀ + b for x of shape N × in; W is out × in (PyTorch's layout) and starts,
/// like b, as U(−1/√in, 1/√in).
public final class Linear: Layer, OutputStatistics {
    public let inFeatures: Int, outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?
    public private(set) var outputMean: Double = 0
    public private(set) var outputStd: Double = 0
    public var recordsOutputStatistics = true
    public var keepsOutput = false
    public var keptOutput: Tensor?
    public var typeName: String { "Linear" }
    private var savedInput: Tensor?

    public init(inputFeatures inFeatures: Int, outputFeatures outFeatures: Int, bias: Bool = true, generator: inout SeededGenerator) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter(.uniform(shape: [outFeatures, inFeatures], in: -bound, bound, generator: &generator), role: .weight)
        self.bias = bias ? Parameter(.uniform(shape: [outFeatures], in: -bound, bound, generator: &generator), role: .bias) : nil
    }

    public var localParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] {
        guard input == [inFeatures] else {
            throw .shapeMismatch(expected: [inFeatures], got: input, context: "Linear(\(inFeatures)→\(outFeatures)) per-sample input")
        }
        return [outFeatures]
    }

    public func operations(input: [Int]) -> OperationCount {
        OperationCount(multiplications: inFeatures * outFeatures, additions: inFeatures * outFeatures)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let n = x.shape.first ?? 0
        x.checkShape([n, inFeatures], "Linear(\(inFeatures)→\(outFeatures)) input")
        var y = Tensor(shape: [n, outFeatures])
        if let bias {
            y.withUnsafeMutableBufferPointer { yb in
                bias.value.withUnsafeBufferPointer { bb in
                    for i in 0..<n { (yb.baseAddress! + i * outFeatures).update(from: bb.baseAddress!, count: outFeatures) }
                }
            }
        }
        x.withUnsafeBufferPointer { xb in
            weight.value.withUnsafeBufferPointer { wb in
                y.withUnsafeMutableBufferPointer { yb in
                    BLAS.sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: xb.baseAddress!, lda: inFeatures,
                               b: wb.baseAddress!, ldb: inFeatures, beta: 1, c: yb.baseAddress!, ldc: outFeatures)
                }
            }
        }
        if training {
            savedInput = x
            if recordsOutputStatistics { (outputMean, outputStd) = y.meanAndStd() }
            if keepsOutput { keptOutput = y }
        }
        return y
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let x = savedInput else { preconditionFailure("Linear.backward called without a training forward pass") }
        let n = x.shape[0]
        gradOutput.checkShape([n, outFeatures], "Linear(\(inFeatures)→\(outFeatures)) output gradient")
        var dx = Tensor(uninitializedShape: [n, inFeatures])
        gradOutput.withUnsafeBufferPointer { gb in
            let g = gb.baseAddress!
            x.withUnsafeBufferPointer { xb in
                weight.grad.withUnsafeMutableBufferPointer { dw in
                    BLAS.sgemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: g, lda: outFeatures,
                               b: xb.baseAddress!, ldb: inFeatures, c: dw.baseAddress!, ldc: inFeatures)
                }
            }
            weight.value.withUnsafeBufferPointer { wb in
                dx.withUnsafeMutableBufferPointer { d in
                    BLAS.sgemm(m: n, n: inFeatures, k: outFeatures, a: g, lda: outFeatures,
                               b: wb.baseAddress!, ldb: inFeatures, c: d.baseAddress!, ldc: inFeatures)
                }
            }
            if let bias {
                bias.grad.withUnsafeMutableBufferPointer { db in
                    for j in 0..<outFeatures {
                        var s: Float = 0
                        for i in 0..<n { s += g[i * outFeatures + j] }
                        db[j] = s
                    }
                }
            }
        }
        savedInput = nil
        return dx
    }
}
