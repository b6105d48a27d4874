import AdderCore

/// Multiplications and additions of a layer or model, per image.
public struct OperationCount: Sendable, Equatable, Codable {
    public var multiplications: Int
    public var additions: Int
    public init(multiplications: Int = 0, additions: Int = 0) {
        self.multiplications = multiplications
        self.additions = additions
    }
    public static func + (a: Self, b: Self) -> Self {
        .init(multiplications: a.multiplications + b.multiplications, additions: a.additions + b.additions)
    }
    public static func += (a: inout Self, b: Self) { a = a + b }
}

/// One counted layer in a per-layer breakdown.
public struct LayerOperations: Sendable, Equatable {
    public let name: String
    public let type: String
    public let outputShape: [Int]
    public let operations: OperationCount
    public init(name: String, type: String, outputShape: [Int], operations: OperationCount) {
        self.name = name; self.type = type; self.outputShape = outputShape; self.operations = operations
    }
}

/// A network layer with an explicit forward and backward pass.
///
/// `forward` keeps what `backward` needs; `backward` takes ∂L/∂output, stores the
/// parameter gradients and returns ∂L/∂input. A layer runs once per step.
public protocol Layer: AnyObject {
    /// The type name shown in tables ("Adder2d", "Conv2d", …).
    var typeName: String { get }
    func forward(_ x: Tensor, training: Bool) -> Tensor
    func backward(_ gradOutput: Tensor) -> Tensor
    /// Parameters owned directly by this layer, with local names ("weight").
    var localParameters: [(String, Parameter)] { get }
    /// Sub-layers, with local names ("0", "conv1", …).
    var children: [(String, any Layer)] { get }
    /// The per-sample output shape for a per-sample input shape (no batch dimension),
    /// or an error naming both shapes.
    func outputShape(for input: [Int]) throws(TensorError) -> [Int]
    /// Operations per image of this layer alone (zero for containers and for
    /// layers the paper does not count: batch norm, activations, pooling).
    func operations(input: [Int]) -> OperationCount
    /// Per-layer operation counts of the counted layers below this one, in forward
    /// order, and the per-sample output shape. `prefix` is this layer's dotted name
    /// followed by a dot (empty at the root).
    func operationBreakdown(input: [Int], prefix: String) throws(TensorError) -> ([LayerOperations], [Int])
    /// The step-profile part this layer's forward and backward go to when its container
    /// calls it (`profiledForward`, `profiledBackward`); nil for containers and for layers
    /// that measure their own parts (the unfolded layers). See `StepProfile`.
    var profilePart: StepProfile.Part? { get }
}

extension Layer {
    public var localParameters: [(String, Parameter)] { [] }
    public var children: [(String, any Layer)] { [] }
    public func operations(input: [Int]) -> OperationCount { OperationCount() }
    public var profilePart: StepProfile.Part? { nil }

    /// `forward`, its time added to `profilePart` when a step profile is recording.
    @inline(__always) public func profiledForward(_ x: Tensor, training: Bool) -> Tensor {
        guard let part = profilePart else { return forward(x, training: training) }
        return StepProfile.measure(part) { forward(x, training: training) }
    }

    /// `backward`, its time added to `profilePart` when a step profile is recording.
    @inline(__always) public func profiledBackward(_ gradOutput: Tensor) -> Tensor {
        guard let part = profilePart else { return backward(gradOutput) }
        return StepProfile.measure(part) { backward(gradOutput) }
    }

    /// Every parameter below this layer, with dotted names ("layer1.0.conv1.weight").
    public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
        var out = localParameters.map { (prefix + $0.0, $0.1) }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Every layer below this one (itself first), with dotted names.
    public func namedLayers(prefix: String = "") -> [(String, any Layer)] {
        var out: [(String, any Layer)] = [(prefix.isEmpty ? "" : String(prefix.dropLast()), self)]
        for (name, child) in children { out += child.namedLayers(prefix: prefix + name + ".") }
        return out
    }

    /// Leaf layers: one row for this layer when it counts operations.
    public func operationBreakdown(input: [Int], prefix: String) throws(TensorError) -> ([LayerOperations], [Int]) {
        let out = try outputShape(for: input)
        let ops = operations(input: input)
        if ops == OperationCount() { return ([], out) }
        return ([LayerOperations(name: String(prefix.dropLast()), type: typeName, outputShape: out, operations: ops)], out)
    }
}

/// A parameterised layer that records the mean and standard deviation of its last
/// training output, for the per-layer statistics.
public protocol OutputStatistics: AnyObject {
    var outputMean: Double { get }
    var outputStd: Double { get }
    /// Whether training forward passes compute `outputMean`/`outputStd` (a pass over the
    /// output); off on steps whose statistics nobody will read.
    var recordsOutputStatistics: Bool { get set }
    /// Whether training forward passes keep their output in `keptOutput` (for its histogram);
    /// off by default, on only for the steps that record one.
    var keepsOutput: Bool { get set }
    /// The output of the last training forward pass while `keepsOutput` is on; whoever reads
    /// it sets it back to nil, so that it does not outlive that step.
    var keptOutput: Tensor? { get set }
}

extension OperationCount {
    /// Energy per operation at 45 nm (Horowitz, ISSCC 2014), in picojoules: (addition, multiplication).
    public enum Precision: String, Sendable, CaseIterable {
        case fp32, fp16, int32
        public var picojoules: (add: Double, multiply: Double) {
            switch self {
            case .fp32: return (0.9, 3.7)
            case .fp16: return (0.4, 1.1)
            case .int32: return (0.1, 3.1)
            }
        }
    }

    /// 1234567 → "1.23M", 128500 → "128.5K".
    public static func compact(_ n: Int) -> String {
        let v = Double(n)
        switch abs(v) {
        case 1e9...: return String(format: "%.2fG", v / 1e9)
        case 1e6...: return String(format: "%.2fM", v / 1e6)
        case 1e3...: return String(format: "%.1fK", v / 1e3)
        default: return String(n)
        }
    }

    /// Microjoules with three significant digits ("1.11", "74.7", "188").
    public static func microjoules(_ uj: Double) -> String { uj >= 100 ? String(format: "%.0f", uj) : String(format: "%.3g", uj) }

    /// Estimated energy of these operations in microjoules.
    public func energyMicrojoules(_ p: Precision = .fp32) -> Double {
        (Double(additions) * p.picojoules.add + Double(multiplications) * p.picojoules.multiply) / 1e6
    }
}
