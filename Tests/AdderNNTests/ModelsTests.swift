import Testing
import AdderCore
@testable import AdderNN

@Suite("Models")
struct ModelTests {
    /// Operation counts per image against the paper (Table 2–4 and §4):
    /// - ResNet-20: we count 40.81M MACs; the paper says 41.17M (0.9% more). Our figure is
    ///   every conv and FC MAC of the standard CIFAR ResNet-20; the paper's extra ~0.36M is
    ///   not explained there (it may include batch norm or the residual additions).
    /// - ResNet-32: 69.12M, as the paper.
    /// - VGG-small: 0.608G against the paper's 0.65G (6.5% fewer). We build the VGG-small of
    ///   the quantisation papers AdderNet compares with (2×128, 2×256, 2×512 3×3 convs, one
    ///   FC); the paper does not list its layers, and ~40M of MACs (e.g. a wider classifier)
    ///   is unaccounted for — so this one is held to 7%, not 3%.
    /// - ResNet-18: 1.81G against 1.8G. ResNet-50: 4.09G against the paper's 3.9G: the official
    ///   code puts the stride in the bottleneck's 3×3 convolution (ResNet v1.5), which costs
    ///   ≈ 0.2G more than the original v1 with the stride in the first 1×1.
    @Test(arguments: [
        (ModelKind.resnet20, 41.17e6, 0.03), (.resnet32, 69.12e6, 0.03), (.vggSmall, 0.65e9, 0.07),
        (.resnet18, 1.8e9, 0.03), (.resnet50, 3.9e9, 0.06),
    ])
    func operationCountsMatchThePaper(kind: ModelKind, multiplications: Double, tolerance: Double) {
        let cnn = Model(kind, placement: .cnn)
        let m = Double(cnn.operations.multiplications)
        #expect(abs(m - multiplications) / multiplications <= tolerance, "\(kind): \(m) vs \(multiplications)")
        #expect(cnn.operations.additions == cnn.operations.multiplications)
        // As an AdderNet the same layers count two additions per pair and no multiplications,
        // except the first conv and the classifier, which stay multiplicative.
        let adder = Model(kind, placement: .paper)
        let rows = cnn.operationBreakdown()
        let kept = rows.first!.operations.multiplications + rows.last!.operations.multiplications
        #expect(adder.operations.multiplications == kept)
        #expect(adder.operations.additions == 2 * (cnn.operations.multiplications - kept) + kept)
    }

    @Test func resNet20LayerCountsAndShapes() {
        let m = Model(.resnet20)
        #expect(m.adderLayers.count == 18 + 2)  // 18 3×3 layers and two 1×1 downsampling shortcuts
        #expect(m.parameterCount == Model(.resnet20, placement: .cnn).parameterCount)
        let y = m.forward(normalTensor([2, 3, 32, 32], seed: 1), training: false)
        #expect(y.shape == [2, 10])
    }

    @Test func imageNetDefinitionsRunForward() {
        // ResNet-18/50 are definitions for counting; a small input checks the wiring.
        for kind in [ModelKind.resnet18, .resnet50] {
            let m = Model(kind, classes: 7)
            #expect(m.forward(normalTensor([1, 3, 64, 64], seed: 2), training: false).shape == [1, 7])
        }
        #expect(Model(.resnet18, placement: .cnn).parameterCount == 11_689_512)  // torchvision's figure
        #expect(Model(.resnet50, placement: .cnn).parameterCount == 25_557_032)
    }

    @Test func adderPlacementSwitch() {
        #expect(Model(.lenet5, placement: .cnn).adderLayers.isEmpty)
        #expect(Model(.lenet5, placement: .paper).adderLayers.map(\.0) == ["conv2", "conv3"])
        #expect(Model(.lenet5, placement: .allConvolutions).adderLayers.count == 3)
        let full = Model(.lenet5, placement: AdderPlacement(hidden: true, firstConvolution: true, classifier: true))
        #expect(full.operations.multiplications == 0)
        #expect(full.forward(normalTensor([2, 1, 28, 28], seed: 3), training: true).shape == [2, 10])
    }

    @Test func gradientModeSwitchAllOrOne() {
        let m = Model(.resnet20)
        m.setGradientRules(filter: .sign, input: .sign, layer: "layer2.0.conv1")
        #expect(m.adderLayers.filter { $0.1.filterRule == .sign }.map(\.0) == ["layer2.0.conv1"])
        m.setGradientRules(filter: .sign, input: .sign)
        #expect(m.adderLayers.allSatisfy { $0.1.filterRule == .sign && $0.1.inputRule == .sign })
    }

    @Test func wrongInputShapeNamesBothShapes() {
        #expect {
            _ = try Model(.lenet5).root.outputShape(for: [3, 32, 32])
        } throws: { error in
            let text = (error as? TensorError)?.description ?? ""
            return text.contains("got [1, 3, 32, 32]") && text.contains("N×1×H×W")
        }
    }
}

@Suite("Training")
struct TrainingTests {
    /// Memorising 32 fixed images with random labels: the engine can learn at all.
    func overfit(_ placement: AdderPlacement, lr: Float) -> (first: Float, last: Float) {
        Parallel.withThreads(2) {
            let model = Model(.lenet5, placement: placement, seed: 7)
            let x = normalTensor([32, 1, 28, 28], seed: 8)
            var g = SeededGenerator(seed: 9)
            let labels = (0..<32).map { _ in Int(g.next() % 10) }
            let opt = SGD(parameters: model.namedParameters)
            var first: Float = 0, last: Float = 0
            for step in 0..<200 {
                last = model.trainStep(images: x, labels: labels, optimizer: opt, learningRate: lr).loss
                if step == 0 { first = last }
                if last < first * 0.05 { break }
            }
            return (first, last)
        }
    }

    @Test func cnnDrivesTheLossDown() {
        let (first, last) = overfit(.cnn, lr: 0.05)
        #expect(last < 0.1 * first, "loss \(first) → \(last)")
    }

    @Test func adderNetDrivesTheLossDown() {
        let (first, last) = overfit(.paper, lr: 0.05)
        #expect(last < 0.1 * first, "loss \(first) → \(last)")
    }

    /// The same seed and thread count give bit-identical losses.
    @Test func sameSeedSameLosses() {
        func losses() -> [Float] {
            Parallel.withThreads(2) {
                let model = Model(.lenet5, seed: 3)
                let opt = SGD(parameters: model.namedParameters)
                let x = normalTensor([16, 1, 28, 28], seed: 4)
                let labels = (0..<16).map { $0 % 10 }
                return (0..<4).map { _ in model.trainStep(images: x, labels: labels, optimizer: opt, learningRate: 0.1).loss }
            }
        }
        let a = losses(), b = losses()
        #expect(a == b)
        #expect(Set(a).count > 1)
        let c = Model(.lenet5, seed: 4).namedParameters[0].1.value
        #expect(c != Model(.lenet5, seed: 3).namedParameters[0].1.value)
    }

    /// Statistics are there after a step without another pass.
    @Test func layerStatisticsAfterAStep() {
        let model = Model(.lenet5)
        let opt = SGD(parameters: model.namedParameters)
        model.trainStep(images: normalTensor([8, 1, 28, 28], seed: 5), labels: Array(repeating: 1, count: 8), optimizer: opt, learningRate: 0.1)
        let stats = model.layerStatistics()
        let adders = stats.filter { $0.type == "Adder2d" }
        #expect(adders.count == 2)
        for s in adders {
            #expect(s.gradNorm > 0 && s.weightNorm > 0 && s.outputMean < 0 && s.outputStd > 0)
            let k = Double(model.adderLayers.first { $0.0 == s.name }!.1.weight.value.count)
            #expect(abs(s.alpha - 0.2 * k.squareRoot() / s.gradNorm) < 1e-3 * s.alpha)
        }
        #expect(stats.filter { $0.type != "Adder2d" }.allSatisfy { $0.alpha == 1 })
    }
}

@Suite("Energy estimates")
struct EnergyTests {
    /// 1000 multiplications and 2000 additions in FP32: 1000·3.7 + 2000·0.9 = 5500 pJ = 0.0055 µJ.
    @Test func horowitzFigures() {
        let ops = OperationCount(multiplications: 1000, additions: 2000)
        #expect(abs(ops.energyMicrojoules(.fp32) - 0.0055) < 1e-12)
        #expect(abs(ops.energyMicrojoules(.fp16) - (1000 * 1.1 + 2000 * 0.4) / 1e6) < 1e-12)
        // The AdderNet LeNet-5-BN costs less energy than the CNN although it does more operations.
        let cnn = Model(.lenet5, placement: .cnn).operations, adder = Model(.lenet5, placement: .paper).operations
        #expect(adder.energyMicrojoules() < cnn.energyMicrojoules())
    }
}

@Suite("First layer")
struct FirstLayerTests {
    /// ∂L/∂images is never needed: the first layer skips it, the others do not.
    @Test func firstLayerSkipsTheInputGradient() {
        let m = Model(.lenet5, placement: .allConvolutions)
        let unfolded = m.root.namedLayers().compactMap { $0.1 as? UnfoldedLayer }
        #expect(unfolded.map(\.computesInputGradient) == [false, true, true])
        let logits = m.forward(normalTensor([4, 1, 28, 28], seed: 1), training: true)
        let r = SoftmaxCrossEntropy.evaluate(logits: logits, labels: [0, 1, 2, 3])
        #expect(m.backward(r.gradient).count == 0)
        #expect(unfolded[0].weight.grad.l2Norm() > 0)   // its filter gradient is still there
    }
}

@Suite("Parameters")
struct ParameterTests {
    /// Assigning a tensor of another shape is caught where it happens, not steps later.
    @Test func assigningAnotherShapeTraps() async {
        await #expect(processExitsWith: .failure) {
            let p = Parameter(Tensor(shape: [2, 3]), role: .weight)
            p.value = Tensor(shape: [7])
        }
        let p = Parameter(Tensor(shape: [2, 3]), role: .weight)
        p.value = Tensor(shape: [2, 3], repeating: 1)
        p.value.withUnsafeMutableBufferPointer { $0[0] = 5 }
        #expect(p.value.values == [5, 1, 1, 1, 1, 1])
    }
}
