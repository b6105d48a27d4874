import AdderCore

/// Layers run one after another; children are named "0", "1", … as in PyTorch
/// unless names are given.
public final class Sequential: Layer {
    public let layers: [(String, any Layer)]
    public var typeName: String { "Sequential" }

    /// A batch norm directly followed by a ReLU is fused (`fuseBatchNormReLU`).
    public init(_ layers: [any Layer]) {
        self.layers = layers.enumerated().map { (String($0.offset), $0.element) }
        fuseBatchNormReLU(layers)
    }

    public init(named layers: [(String, any Layer)]) {
        self.layers = layers
        fuseBatchNormReLU(layers.map(\.1))
    }

    public var children: [(String, any Layer)] { layers }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        layers.reduce(x) { $1.1.profiledForward($0, training: training) }
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        layers.reversed().reduce(gradOutput) { $1.1.profiledBackward($0) }
    }

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] {
        var s = input
        for (_, l) in layers { s = try l.outputShape(for: s) }
        return s
    }

    public func operationBreakdown(input: [Int], prefix: String) throws(TensorError) -> ([LayerOperations], [Int]) {
        var rows: [LayerOperations] = [], s = input
        for (name, l) in layers {
            let (r, out) = try l.operationBreakdown(input: s, prefix: prefix + name + ".")
            rows += r; s = out
        }
        return (rows, s)
    }
}
