import AdderCore

/// One layer's numbers after a training step.
public struct LayerStatistics: Sendable, Equatable, Codable {
    public let name: String
    public let type: String
    /// ‖∂L/∂W‖₂ of the layer's main weight, before learning-rate scaling.
    public let gradNorm: Double
    /// ‖W‖₂ before the update.
    public let weightNorm: Double
    /// The gradient multiplier α_l (1 for layers the adaptive rate does not touch).
    public let alpha: Double
    public let outputMean: Double
    public let outputStd: Double
    /// The gradient rules of an adder layer; nil for other layers.
    public let gradientRules: GradientRules?

    public init(name: String, type: String, gradNorm: Double, weightNorm: Double, alpha: Double, outputMean: Double,
                outputStd: Double, gradientRules: GradientRules? = nil) {
        self.name = name; self.type = type; self.gradNorm = gradNorm; self.weightNorm = weightNorm
        self.alpha = alpha; self.outputMean = outputMean; self.outputStd = outputStd; self.gradientRules = gradientRules
    }
}

extension Model {
    /// Statistics of every layer with a weight, from the last forward pass and optimizer step.
    public func layerStatistics() -> [LayerStatistics] {
        statisticLayers.map { name, layer in
            let weight = layer.localParameters.first { $0.0 == "weight" }?.1
            let stats = layer as? OutputStatistics
            return LayerStatistics(name: name, type: layer.typeName, gradNorm: weight?.gradNorm ?? 0,
                                   weightNorm: weight?.weightNorm ?? 0, alpha: weight?.alpha ?? 1,
                                   outputMean: stats?.outputMean ?? 0, outputStd: stats?.outputStd ?? 0, gradientRules: (layer as? Adder2d)?.rules)
        }
    }

    /// One training step on a batch: forward, loss, backward, optimizer update.
    @discardableResult
    public func trainStep(images: Tensor, labels: [Int], optimizer: SGD, learningRate: Float) -> SoftmaxCrossEntropy.Result {
        let logits = forward(images, training: true)
        let result = StepProfile.measure(.elementwise) { SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels) }
        backward(result.gradient)
        StepProfile.measure(.optimizer) { optimizer.step(learningRate: learningRate) }
        return result
    }
}
