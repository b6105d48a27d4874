import AdderNN
import Foundation
import Synchronization

/// A run's operations and estimated energy per image, FP32 at 45 nm (Horowitz, ISSCC 2014:
/// addition 0.9 pJ, multiplication 3.7 pJ — the figures `adderlab models` prints), and of
/// its training so far.
///
/// Inference is the forward pass (batch norm left out, as in the paper). A training image
/// costs the forward pass and two backward passes, the input gradient and the filter
/// gradient: for a multiply-accumulate layer each is the forward's multiplications and
/// additions again; for an adder layer each is, per pair, one multiplication by the
/// upstream gradient and two additions (the difference and the sum) — the full-precision
/// and HardTanh gradients are not multiplication-free, only the forward is.
public struct RunEnergy: Sendable, Equatable {
    public let inference: OperationCount
    public let training: OperationCount

    /// Estimated µJ to classify one image.
    public var inferenceMicrojoules: Double { inference.energyMicrojoules() }
    /// Estimated µJ to train on one image (forward and both backward passes).
    public var trainingMicrojoules: Double { training.energyMicrojoules() }

    /// The figures as `adderlab models` writes them: "1.11" µJ, "128.5K" operations.
    public static func text(microjoules: Double) -> String { OperationCount.microjoules(microjoules) }
    public static func text(count: Int) -> String { OperationCount.compact(count) }

    /// Estimated joules spent training on `images` images.
    public func trainingJoules(images: Int) -> Double { Double(max(images, 0)) * trainingMicrojoules / 1e6 }

    /// The operations of a model's layers, as inference and as training.
    public init(_ layers: [LayerOperations]) {
        var forward = OperationCount(), backward = OperationCount()
        for l in layers {
            forward += l.operations
            if l.type.contains("Adder") {
                let pairs = l.operations.additions / 2
                backward += OperationCount(multiplications: 2 * pairs, additions: 4 * pairs)
            } else {
                backward += OperationCount(multiplications: 2 * l.operations.multiplications, additions: 2 * l.operations.additions)
            }
        }
        inference = forward
        training = forward + backward
    }

    private static let cache = Mutex<[String: RunEnergy]>([:])

    /// The figures for a run's configuration (its model, adder placement and classes);
    /// worked out once per kind of model in a process.
    public static func of(_ config: ExperimentConfig) -> RunEnergy {
        let classes = config.dataset == .cifar100 ? 100 : 10
        let key = "\(config.model.rawValue)|\(config.adders.rawValue)|\(classes)|\(config.featureDimensions)"
        if let known = cache.withLock({ $0[key] }) { return known }
        let energy = RunEnergy(Model(config.model, placement: config.placement, classes: classes, featureDimensions: config.featureDimensions).operationBreakdown())
        cache.withLock { $0[key] = energy }
        return energy
    }
}

extension RunSnapshot {
    /// Images trained so far (steps × batch size).
    public var imagesTrained: Int { step * config.batchSize }
}
