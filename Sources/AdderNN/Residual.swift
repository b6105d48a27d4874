import AdderCore

/// A residual block: y = ReLU(body(x) + shortcut(x)), with the identity as the
/// shortcut when none is given. `BasicBlock` and `Bottleneck` build the bodies of
/// ResNet's two block types; the 1×1 downsampling shortcut is a conv or adder layer
/// followed by batch norm.
public final class Residual: Layer {
    public let body: [(String, any Layer)]
    public let shortcut: Sequential?
    public let typeName: String
    let relu = ReLU()

    public init(typeName: String, body: [(String, any Layer)], shortcut: Sequential?) {
        self.typeName = typeName
        self.body = body
        self.shortcut = shortcut
        fuseBatchNormReLU(body.map(\.1))   // the body's last batch norm is followed by the add, not fused
    }

    public var children: [(String, any Layer)] {
        body + (shortcut.map { [("shortcut", $0 as any Layer)] } ?? [])
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        var y = body.reduce(x) { $1.1.profiledForward($0, training: training) }
        let s = shortcut?.forward(x, training: training) ?? x
        StepProfile.measure(.elementwise) { y.add(s) }
        return relu.profiledForward(y, training: training)
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        let g = relu.profiledBackward(gradOutput)
        var dx = body.reversed().reduce(g) { $1.1.profiledBackward($0) }
        let s = shortcut?.backward(g) ?? g
        StepProfile.measure(.elementwise) { dx.add(s) }
        return dx
    }

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] {
        try operationBreakdown(input: input, prefix: "").1
    }

    public func operationBreakdown(input: [Int], prefix: String) throws(TensorError) -> ([LayerOperations], [Int]) {
        var rows: [LayerOperations] = [], s = input
        for (name, l) in body {
            let (r, out) = try l.operationBreakdown(input: s, prefix: prefix + name + ".")
            rows += r; s = out
        }
        var sc = input
        if let shortcut {
            let (r, out) = try shortcut.operationBreakdown(input: input, prefix: prefix + "shortcut.")
            rows += r; sc = out
        }
        guard sc == s else {
            throw .shapeMismatch(expected: s, got: sc, context: "\(typeName): shortcut output against body output")
        }
        return (rows, s)
    }
}
