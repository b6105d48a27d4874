import AdderCore

/// How adder-filter gradients are scaled before the SGD update (DESIGN.md §1).
public enum LearningRateStrategy: String, Sendable, CaseIterable, Codable {
    /// α_l = η·√k / ‖∂L/∂F_l‖₂ per adder layer: the paper's adaptive learning rate.
    case adaptive
    /// α_l = 1: plain SGD.
    case fixed
    /// α_l = a constant multiplier: the paper's "increased learning rate" baseline.
    case scaled
}

/// Hyper-parameters of `SGD`.
public struct SGDConfiguration: Sendable, Equatable, Codable {
    public var momentum: Float = 0.9
    public var weightDecay: Float = 5e-4
    public var nesterov = false
    public var strategy: LearningRateStrategy = .adaptive
    /// η of the adaptive strategy.
    public var eta: Float = 0.2
    /// The multiplier of the scaled strategy.
    public var scale: Float = 10
    public init() {}
}

/// SGD with momentum, weight decay and optional Nesterov, as PyTorch's `torch.optim.SGD`,
/// with adder-filter gradients first scaled by α_l as the reference code does:
///
///     d = α·g + λ·w;  b = μ·b + d (b = d at the first step);  w −= lr·(nesterov ? d + μ·b : b)
///
/// Each step records, per parameter, ‖g‖₂, ‖w‖₂ and α (see `Parameter`), so the
/// per-layer statistics cost no extra pass.
public final class SGD {
    public var configuration: SGDConfiguration
    /// Momentum buffers, aligned with the parameter list the optimizer was made with.
    public private(set) var momentumBuffers: [Tensor?]
    /// Steps taken.
    public private(set) var stepCount = 0
    public let parameters: [(String, Parameter)]

    public init(parameters: [(String, Parameter)], configuration: SGDConfiguration = SGDConfiguration()) {
        self.parameters = parameters.filter { $0.1.isTrainable }
        self.configuration = configuration
        momentumBuffers = Array(repeating: nil, count: self.parameters.count)
    }

    /// α for an adder filter whose gradient has norm `gradNorm` and `k` elements.
    public func alpha(gradNorm: Double, elements k: Int) -> Float {
        switch configuration.strategy {
        case .adaptive: return configuration.eta * Float(k).squareRoot() / Float(max(gradNorm, 1e-12))
        case .fixed: return 1
        case .scaled: return configuration.scale
        }
    }

    /// One update with learning rate `lr`.
    public func step(learningRate lr: Float) {
        let mu = configuration.momentum, wd = configuration.weightDecay, nesterov = configuration.nesterov
        for (i, (_, p)) in parameters.enumerated() {
            let gNorm = p.grad.l2Norm()
            p.gradNorm = gNorm
            p.weightNorm = p.value.l2Norm()
            let a: Float = p.role == .adderFilter ? alpha(gradNorm: gNorm, elements: p.value.count) : 1
            p.alpha = Double(a)
            let first = momentumBuffers[i] == nil
            var buf = momentumBuffers[i] ?? Tensor(shape: p.value.shape)
            momentumBuffers[i] = nil  // keep the buffer uniquely referenced while it is updated
            p.grad.withUnsafeBufferPointer { g in
                buf.withUnsafeMutableBufferPointer { b in
                    p.value.withUnsafeMutableBufferPointer { w in
                        for j in 0..<w.count {
                            let d = a * g[j] + wd * w[j]
                            if mu != 0 {
                                b[j] = first ? d : mu * b[j] + d
                                w[j] -= lr * (nesterov ? d + mu * b[j] : b[j])
                            } else {
                                w[j] -= lr * d
                            }
                        }
                    }
                }
            }
            momentumBuffers[i] = buf
        }
        stepCount += 1
    }

    /// Restores momentum buffers and the step count (from a checkpoint); shapes must match.
    public func restore(momentumBuffers buffers: [Tensor?], stepCount: Int) throws(TensorError) {
        guard buffers.count == parameters.count else {
            throw .shapeMismatch(expected: [parameters.count], got: [buffers.count], context: "optimizer momentum buffers")
        }
        for (b, (_, p)) in zip(buffers, parameters) {
            if let b, b.shape != p.value.shape {
                throw .shapeMismatch(expected: p.value.shape, got: b.shape, context: "momentum buffer")
            }
        }
        momentumBuffers = buffers
        self.stepCount = stepCount
    }
}

/// Learning rate as a function of the step (DESIGN.md §1: cosine from 0.1 in the paper).
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public enum Shape: Sendable, Equatable, Codable {
        case constant
        /// lr·½(1 + cos(π·t/T)) over `totalSteps`.
        case cosine(totalSteps: Int)
        /// lr·γ^⌊t/stepSize⌋.
        case step(stepSize: Int, gamma: Float)
    }
    public var base: Float
    public var shape: Shape
    /// Linear warm-up from base/warmup to base over the first `warmupSteps` steps.
    public var warmupSteps: Int

    public init(base: Float, shape: Shape = .constant, warmupSteps: Int = 0) {
        self.base = base; self.shape = shape; self.warmupSteps = warmupSteps
    }

    /// The learning rate of step `t` (0-based).
    public func rate(at t: Int) -> Float {
        var lr: Float
        switch shape {
        case .constant: lr = base
        case let .cosine(total):
            let x = Double(min(t, total)) / Double(max(total, 1))
            lr = Float(Double(base) * 0.5 * (1 + cos(Double.pi * x)))
        case let .step(size, gamma):
            lr = base * pow(gamma, Float(t / max(size, 1)))
        }
        if t < warmupSteps { lr *= Float(t + 1) / Float(warmupSteps) }
        return lr
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
