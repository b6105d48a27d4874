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
    ///
    /// With `collective` (a data-parallel run), `images` is this rank's equal share of the
    /// global batch: batch norm uses the global batch's statistics, the gradients are
    /// averaged over the ranks before the update (so α_l sees the global gradient's norm),
    /// and the result's loss and counts are the global batch's.
    @discardableResult
    public func trainStep(images: Tensor, labels: [Int], optimizer: SGD, learningRate: Float) -> SoftmaxCrossEntropy.Result {
        let logits = forward(images, training: true)
        var result = StepProfile.measure(.elementwise) { SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels) }
        backward(result.gradient)
        if let ranks = collective {
            averageGradients(optimizer.parameters.map(\.1), over: ranks)
            var totals = [Double(result.loss), Double(result.correctTop1), Double(result.correctTop5)]
            ranks.sum(&totals)
            result = SoftmaxCrossEntropy.Result(loss: Float(totals[0] / Double(ranks.size)), gradient: result.gradient,
                                                correctTop1: Int(totals[1]), correctTop5: Int(totals[2]))
        }
        StepProfile.measure(.optimizer) { optimizer.step(learningRate: learningRate) }
        return result
    }

    /// Replaces each parameter's gradient by its mean over the ranks: one sum of all of
    /// them packed in one buffer, then ÷ ranks (every rank's loss is its share's mean).
    private func averageGradients(_ parameters: [Parameter], over ranks: any Collective) {
        let total = parameters.reduce(0) { $0 + $1.grad.count }
        var packed = [Float](repeating: 0, count: total)
        var offset = 0
        for p in parameters {
            p.grad.withUnsafeBufferPointer { g in
                packed.withUnsafeMutableBufferPointer { d in _ = UnsafeMutableBufferPointer(rebasing: d[offset..<offset + g.count]).initialize(from: g) }
            }
            offset += p.grad.count
        }
        ranks.sum(&packed)
        let scale = 1 / Float(ranks.size)
        offset = 0
        for p in parameters {
            let n = p.grad.count
            packed.withUnsafeBufferPointer { s in
                p.grad.withUnsafeMutableBufferPointer { g in for i in 0..<n { g[i] = s[offset + i] * scale } }
            }
            offset += n
        }
    }
}
