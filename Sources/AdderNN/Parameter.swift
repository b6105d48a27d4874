import AdderCore

/// What a tensor in a model is for; the optimizer and the statistics read it.
public enum ParameterRole: String, Sendable, Codable {
    /// Filters of an adder layer: the adaptive learning rate applies to these.
    case adderFilter
    /// Weights of a multiplicative layer (conv, linear).
    case weight
    case bias
    /// Batch-norm scale γ and shift β.
    case normScale, normShift
    /// Batch-norm running statistics: saved and loaded, never trained.
    case runningStatistic
}

/// A named tensor of a model with its gradient and the statistics of its last step.
///
/// Layers overwrite `grad` in every backward pass (each layer runs once per step),
/// so there is no zeroing step. `gradNorm`, `weightNorm` and `alpha` are filled in
/// by the optimizer as a by-product of its update.
public final class Parameter {
    private var stored: Tensor
    /// The parameter's tensor. Assigning a tensor of another shape is a programming
    /// error and traps with both shapes; updating it in place (the optimizer) is free.
    public var value: Tensor {
        get { stored }
        set {
            precondition(newValue.shape == stored.shape, "parameter of shape \(stored.shape) assigned a tensor of shape \(newValue.shape)")
            stored = newValue
        }
        _modify { yield &stored }
    }
    public var grad: Tensor
    public let role: ParameterRole

    /// ‖∂L/∂θ‖₂ of the last step, before any learning-rate scaling.
    public internal(set) var gradNorm: Double = 0
    /// ‖θ‖₂ before the last update.
    public internal(set) var weightNorm: Double = 0
    /// The gradient multiplier of the last step (α_l for adder filters, 1 otherwise).
    public internal(set) var alpha: Double = 1

    public init(_ value: Tensor, role: ParameterRole) {
        stored = value
        self.role = role
        grad = role == .runningStatistic ? Tensor(shape: [0]) : Tensor(shape: value.shape)
    }

    /// Trained by the optimizer (everything but running statistics).
    public var isTrainable: Bool { role != .runningStatistic }
}
