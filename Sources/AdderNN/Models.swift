import AdderCore

/// Which layers of a model are adder layers.
public struct AdderPlacement: Sendable, Equatable, Codable {
    /// The convolutions between the first and the classifier (incl. 1×1 shortcuts).
    public var hidden: Bool
    /// The first convolution (multiplicative in the paper).
    public var firstConvolution: Bool
    /// The fully connected layers (multiplicative in the paper).
    public var classifier: Bool

    public init(hidden: Bool, firstConvolution: Bool = false, classifier: Bool = false) {
        self.hidden = hidden; self.firstConvolution = firstConvolution; self.classifier = classifier
    }

    /// Every layer multiplicative: the CNN baseline.
    public static let cnn = AdderPlacement(hidden: false)
    /// The paper's AdderNet: all but the first convolution and the fully connected layers.
    public static let paper = AdderPlacement(hidden: true)
    /// Every convolution an adder layer, the first included; fully connected layers stay multiplicative.
    public static let allConvolutions = AdderPlacement(hidden: true, firstConvolution: true)

    public var isCNN: Bool { !hidden && !firstConvolution && !classifier }
}

/// The architectures AdderLab builds.
public enum ModelKind: String, Sendable, CaseIterable, Codable {
    case lenet5 = "lenet5"
    case resnet20, resnet32, resnet56
    case vggSmall = "vgg-small"
    case resnet18, resnet50

    /// Per-sample input shape [C, H, W].
    public var inputShape: [Int] {
        switch self {
        case .lenet5: return [1, 28, 28]
        case .resnet20, .resnet32, .resnet56, .vggSmall: return [3, 32, 32]
        case .resnet18, .resnet50: return [3, 224, 224]
        }
    }

    /// Number of classes in the paper's setting (changeable at construction).
    public var defaultClasses: Int {
        switch self {
        case .resnet18, .resnet50: return 1000
        default: return 10
        }
    }

    public var summary: String {
        switch self {
        case .lenet5: return "LeNet-5-BN, 28×28×1 (MNIST, Fashion-MNIST)"
        case .resnet20: return "ResNet-20, 32×32×3 (CIFAR)"
        case .resnet32: return "ResNet-32, 32×32×3 (CIFAR)"
        case .resnet56: return "ResNet-56, 32×32×3 (CIFAR)"
        case .vggSmall: return "VGG-small, 32×32×3 (CIFAR)"
        case .resnet18: return "ResNet-18, 224×224×3 (ImageNet)"
        case .resnet50: return "ResNet-50, 224×224×3 (ImageNet)"
        }
    }
}

/// A classifier network: a root layer and its named parts.
public final class Model {
    public let kind: ModelKind
    public let placement: AdderPlacement
    public let classes: Int
    public let root: Sequential
    /// Every parameter and running statistic, with PyTorch-style dotted names, in a fixed order.
    public let namedParameters: [(String, Parameter)]
    /// Every adder layer with its dotted name, in forward order.
    public let adderLayers: [(String, Adder2d)]
    /// Every layer that records output statistics, with its dotted name, in forward order.
    public let statisticLayers: [(String, any Layer)]
    /// Every batch-norm layer with its dotted name, in forward order.
    public let batchNorms: [(String, BatchNorm)]
    /// Units of the feature layer before the classifier (LeNet-5-BN only); 0 = none.
    public let featureDimensions: Int

    /// The models that can have a feature layer, and how wide it may be.
    public static let featureModels: [ModelKind] = [.lenet5]
    public static let featureDimensionRange = 2...2

    /// Builds `kind` with its layers placed by `placement`, initialised from `seed`; with
    /// `featureDimensions` > 0 (LeNet-5-BN only, see `ModelBuilder.lenet5`) a layer of that
    /// many units sits before the classifier.
    public init(_ kind: ModelKind, placement: AdderPlacement = .paper, classes: Int? = nil, featureDimensions: Int = 0, seed: UInt64 = 0) {
        precondition(featureDimensions == 0 || (Model.featureModels.contains(kind) && Model.featureDimensionRange.contains(featureDimensions)),
                     "no \(featureDimensions)-unit feature layer for \(kind.rawValue)")
        self.kind = kind
        self.placement = placement
        self.classes = classes ?? kind.defaultClasses
        self.featureDimensions = featureDimensions
        let builder = ModelBuilder(placement: placement, seed: seed)
        root = builder.build(kind, classes: self.classes, featureDimensions: featureDimensions)
        namedParameters = root.namedParameters()
        let layers = root.namedLayers()
        adderLayers = layers.compactMap { name, l in (l as? Adder2d).map { (name, $0) } }
        statisticLayers = layers.filter { $0.1 is OutputStatistics }
        // The first layer's input is the data: nobody needs ∂L/∂images.
        (layers.first { $0.1 is UnfoldedLayer }?.1 as? UnfoldedLayer)?.computesInputGradient = false
        batchNorms = layers.compactMap { name, l in (l as? BatchNorm).map { (name, $0) } }
    }

    public var inputShape: [Int] { kind.inputShape }

    /// The ranks of a data-parallel run, or nil for a process training alone: with ranks,
    /// `trainStep` takes this rank's share of each global batch and its batch norms are
    /// synchronised (see `trainStep`, `BatchNorm.collective`).
    public var collective: (any Collective)? {
        didSet { for (_, bn) in batchNorms { bn.collective = collective } }
    }

    /// Logits N × classes for an N × C × H × W batch.
    public func forward(_ x: Tensor, training: Bool) -> Tensor { root.forward(x, training: training) }

    /// The feature layer's name in `root` (its parameters are "features.weight", …).
    public static let featureLayerName = "features"

    /// The feature layer's output, N × `featureDimensions`, for an N × C × H × W batch in
    /// evaluation mode (the inputs the classifier sees); nil for a model without one.
    public func features(_ x: Tensor) -> Tensor? {
        guard featureDimensions > 0, let end = root.layers.firstIndex(where: { $0.0 == Model.featureLayerName }) else { return nil }
        return root.layers[...end].reduce(x) { $1.1.forward($0, training: false) }
    }

    /// Back-propagates ∂L/∂logits, filling every parameter's gradient. The gradient with
    /// respect to the images is not computed (the result is empty).
    @discardableResult
    public func backward(_ gradLogits: Tensor) -> Tensor { root.backward(gradLogits) }

    /// Sets the gradient rules of every adder layer, or of the one named `layer`.
    public func setGradientRules(filter: AdderKernels.FilterRule, input: AdderKernels.InputRule, layer: String? = nil) {
        setGradientRules(GradientRules(filter: filter, input: input), layer: layer)
    }

    /// Sets the rules of every adder layer, or of the one named `layer`.
    public func setGradientRules(_ rules: GradientRules, layer: String? = nil) {
        for (name, a) in adderLayers where layer == nil || layer == name { a.rules = rules }
    }

    /// Whether the next training forward passes compute each layer's output mean and
    /// spread (for `layerStatistics()`); on by default.
    public var recordsOutputStatistics = true {
        didSet { for (_, l) in statisticLayers { (l as? any OutputStatistics)?.recordsOutputStatistics = recordsOutputStatistics } }
    }

    /// Whether the next training forward passes keep each statistic layer's output (its
    /// `keptOutput`, for histograms); off by default.
    public var keepsOutputs = false {
        didSet { for (_, l) in statisticLayers { (l as? any OutputStatistics)?.keepsOutput = keepsOutputs } }
    }

    /// Makes evaluation-mode forward passes normalise with batch statistics (true) or
    /// with the running statistics (false, the default).
    /// Replaces the batch-norm running statistics with the plain mean of `batches`'
    /// statistics under the current weights (training-mode forwards, no backward, no
    /// weight touched): "recalibration", the remedy for running statistics that lag behind
    /// fast-moving weights.
    public func recalibrateBatchNorm(_ batches: [Tensor]) {
        guard !batchNorms.isEmpty, !batches.isEmpty else { return }
        let records = recordsOutputStatistics
        recordsOutputStatistics = false
        defer { recordsOutputStatistics = records }
        for (_, bn) in batchNorms { bn.beginRecalibration() }
        for x in batches { _ = forward(x, training: true) }
        for (_, bn) in batchNorms { bn.endRecalibration() }
    }

    public func evaluateWithBatchStatistics(_ on: Bool) {
        for (_, bn) in batchNorms { bn.evaluateWithBatchStatistics = on }
    }

    /// Number of trainable scalars.
    public var parameterCount: Int {
        namedParameters.filter { $0.1.isTrainable }.reduce(0) { $0 + $1.1.value.count }
    }

    /// Per-layer operation counts for one image, in forward order.
    public func operationBreakdown() -> [LayerOperations] {
        do { return try root.operationBreakdown(input: inputShape, prefix: "").0 } catch { preconditionFailure(error.description) }
    }

    /// Operations for one image.
    public var operations: OperationCount { operationBreakdown().reduce(OperationCount()) { $0 + $1.operations } }
}

/// Builds the layers of a model, choosing adder or convolution per `placement`,
/// drawing initial weights from one seeded generator in a fixed order.
final class ModelBuilder {
    let placement: AdderPlacement
    var generator: SeededGenerator

    init(placement: AdderPlacement, seed: UInt64) {
        self.placement = placement
        generator = SeededGenerator(seed: seed)
    }

    func conv(_ cin: Int, _ cout: Int, _ k: Int, stride: Int = 1, padding: Int = 0, adder: Bool) -> any Layer {
        adder
            ? Adder2d(inputChannels: cin, outputChannels: cout, kernelSize: k, stride: stride, padding: padding, generator: &generator)
            : Conv2d(inputChannels: cin, outputChannels: cout, kernelSize: k, stride: stride, padding: padding, generator: &generator)
    }

    func hidden(_ cin: Int, _ cout: Int, _ k: Int, stride: Int = 1, padding: Int = 0) -> any Layer {
        conv(cin, cout, k, stride: stride, padding: padding, adder: placement.hidden)
    }

    func first(_ cin: Int, _ cout: Int, _ k: Int, stride: Int = 1, padding: Int = 0) -> any Layer {
        conv(cin, cout, k, stride: stride, padding: padding, adder: placement.firstConvolution)
    }

    /// A fully connected layer; as an adder it is a 1×1 adder layer on N×F×1×1 with
    /// batch norm after it (adder outputs are ≤ 0 and large).
    func fullyConnected(_ fin: Int, _ fout: Int) -> [any Layer] {
        guard placement.classifier else { return [Linear(inputFeatures: fin, outputFeatures: fout, generator: &generator)] }
        return [Unflatten(), Adder2d(inputChannels: fin, outputChannels: fout, kernelSize: 1, generator: &generator),
                BatchNorm(channels: fout), Flatten()]
    }

    func build(_ kind: ModelKind, classes: Int, featureDimensions: Int = 0) -> Sequential {
        switch kind {
        case .lenet5: return lenet5(classes, featureDimensions: featureDimensions)
        case .resnet20: return cifarResNet(blocks: 3, classes: classes)
        case .resnet32: return cifarResNet(blocks: 5, classes: classes)
        case .resnet56: return cifarResNet(blocks: 9, classes: classes)
        case .vggSmall: return vggSmall(classes)
        case .resnet18: return imageNetResNet(blocks: [2, 2, 2, 2], bottleneck: false, classes: classes)
        case .resnet50: return imageNetResNet(blocks: [3, 4, 6, 3], bottleneck: true, classes: classes)
        }
    }

    /// LeNet-5-BN as in the peer reference: conv(1→6,5,pad 2) BN ReLU pool, L(6→16,5) BN
    /// ReLU pool, L(16→120,5) BN ReLU, FC 120→84 BN ReLU, FC 84→classes.
    ///
    /// With `featureDimensions` d > 0 (the paper's Fig. 1): FC 84→d "features" (no batch
    /// norm, no activation: its output is the feature space drawn), then the classifier
    /// d→classes. The feature layer follows the fully connected placement (a Linear under
    /// `paper`, an adder under `full`). The classifier is an adder layer in every AdderNet —
    /// logit k = −‖f − c_k‖₁, the L1 distance to one centre per class, with no batch norm
    /// after it — and a Linear in the CNN: the shape of a class in the feature space is set
    /// by the similarity that reads it, L1 distance (the paper's point) against a dot product
    /// (angles); a multiplicative classifier on two dimensions would separate classes by
    /// angle in both networks. Batch norm on those logits would scale (even flip: a first
    /// try had γ < 0 for two classes) each class's distance, and the rule would no longer be
    /// "the nearest centre in L1".
    func lenet5(_ classes: Int, featureDimensions: Int = 0) -> Sequential {
        var layers: [(String, any Layer)] = [
            ("conv1", first(1, 6, 5, padding: 2)), ("bn1", BatchNorm(channels: 6)), ("relu1", ReLU()), ("pool1", MaxPool2d(kernel: 2)),
            ("conv2", hidden(6, 16, 5)), ("bn2", BatchNorm(channels: 16)), ("relu2", ReLU()), ("pool2", MaxPool2d(kernel: 2)),
            ("conv3", hidden(16, 120, 5)), ("bn3", BatchNorm(channels: 120)), ("relu3", ReLU()), ("flatten", Flatten()),
        ]
        layers += named("fc1", fullyConnected(120, 84)) + [("bn4", BatchNorm(channels: 84, dimensions: 1)), ("relu4", ReLU())]
        guard featureDimensions > 0 else {
            layers += named("fc2", fullyConnected(84, classes))
            return Sequential(named: layers)
        }
        layers += named(Model.featureLayerName, fullyConnected(84, featureDimensions))
        layers += named("fc2", placement.isCNN ? fullyConnected(featureDimensions, classes)
            : [Unflatten(), Adder2d(inputChannels: featureDimensions, outputChannels: classes, kernelSize: 1, generator: &generator), Flatten()])
        return Sequential(named: layers)
    }

    /// Names a fully connected block: "fc" for a plain Linear, "fc.0"… parts for an adder one.
    func named(_ name: String, _ layers: [any Layer]) -> [(String, any Layer)] {
        layers.count == 1 ? [(name, layers[0])] : [(name, Sequential(layers))]
    }

    func basicBlock(_ cin: Int, _ cout: Int, stride: Int) -> Residual {
        let shortcut = (stride != 1 || cin != cout) ? Sequential([hidden(cin, cout, 1, stride: stride), BatchNorm(channels: cout)]) : nil
        return Residual(typeName: "BasicBlock", body: [
            ("conv1", hidden(cin, cout, 3, stride: stride, padding: 1)), ("bn1", BatchNorm(channels: cout)), ("relu", ReLU()),
            ("conv2", hidden(cout, cout, 3, padding: 1)), ("bn2", BatchNorm(channels: cout)),
        ], shortcut: shortcut)
    }

    /// The official code's bottleneck: the stride sits in the 3×3 layer.
    func bottleneck(_ cin: Int, _ planes: Int, stride: Int) -> Residual {
        let cout = planes * 4
        let shortcut = (stride != 1 || cin != cout) ? Sequential([hidden(cin, cout, 1, stride: stride), BatchNorm(channels: cout)]) : nil
        return Residual(typeName: "Bottleneck", body: [
            ("conv1", hidden(cin, planes, 1)), ("bn1", BatchNorm(channels: planes)), ("relu1", ReLU()),
            ("conv2", hidden(planes, planes, 3, stride: stride, padding: 1)), ("bn2", BatchNorm(channels: planes)), ("relu2", ReLU()),
            ("conv3", hidden(planes, cout, 1)), ("bn3", BatchNorm(channels: cout)),
        ], shortcut: shortcut)
    }

    func cifarResNet(blocks: Int, classes: Int) -> Sequential {
        var layers: [(String, any Layer)] = [("conv1", first(3, 16, 3, padding: 1)), ("bn1", BatchNorm(channels: 16)), ("relu", ReLU())]
        var cin = 16
        for (stage, (cout, stride)) in [(16, 1), (32, 2), (64, 2)].enumerated() {
            var stageBlocks: [any Layer] = []
            for i in 0..<blocks {
                stageBlocks.append(basicBlock(cin, cout, stride: i == 0 ? stride : 1))
                cin = cout
            }
            layers.append(("layer\(stage + 1)", Sequential(stageBlocks)))
        }
        layers += [("avgpool", GlobalAvgPool()), ("flatten", Flatten())] + named("fc", fullyConnected(64, classes))
        return Sequential(named: layers)
    }

    func imageNetResNet(blocks: [Int], bottleneck useBottleneck: Bool, classes: Int) -> Sequential {
        var layers: [(String, any Layer)] = [
            ("conv1", first(3, 64, 7, stride: 2, padding: 3)), ("bn1", BatchNorm(channels: 64)), ("relu", ReLU()),
            ("maxpool", MaxPool2d(kernel: 3, stride: 2, padding: 1)),
        ]
        var cin = 64
        for (stage, count) in blocks.enumerated() {
            let planes = 64 << stage
            var stageBlocks: [any Layer] = []
            for i in 0..<count {
                let stride = (i == 0 && stage > 0) ? 2 : 1
                if useBottleneck {
                    stageBlocks.append(bottleneck(cin, planes, stride: stride)); cin = planes * 4
                } else {
                    stageBlocks.append(basicBlock(cin, planes, stride: stride)); cin = planes
                }
            }
            layers.append(("layer\(stage + 1)", Sequential(stageBlocks)))
        }
        layers += [("avgpool", GlobalAvgPool()), ("flatten", Flatten())] + named("fc", fullyConnected(cin, classes))
        return Sequential(named: layers)
    }

    /// VGG-small as in the binary/quantised-network papers AdderNet compares with:
    /// (128,128,M,256,256,M,512,512,M) 3×3 layers with batch norm, then FC 8192→classes.
    func vggSmall(_ classes: Int) -> Sequential {
        var layers: [(String, any Layer)] = []
        var cin = 3
        for (i, cout) in [128, 128, 256, 256, 512, 512].enumerated() {
            layers.append(("conv\(i + 1)", i == 0 ? first(cin, cout, 3, padding: 1) : hidden(cin, cout, 3, padding: 1)))
            layers += [("bn\(i + 1)", BatchNorm(channels: cout)), ("relu\(i + 1)", ReLU())]
            if i % 2 == 1 { layers.append(("pool\(i / 2 + 1)", MaxPool2d(kernel: 2))) }
            cin = cout
        }
        layers.append(("flatten", Flatten()))
        layers += named("fc", fullyConnected(512 * 4 * 4, classes))
        return Sequential(named: layers)
    }
}

/// N×F → N×F×1×1, so that an adder layer can serve as a fully connected layer.
public final class Unflatten: Layer {
    public var typeName: String { "Unflatten" }
    public init() {}
    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] { [input.reduce(1, *), 1, 1] }
    public func forward(_ x: Tensor, training: Bool) -> Tensor { x.reshapedOrDie([x.shape[0], x.count / Swift.max(x.shape[0], 1), 1, 1]) }
    public func backward(_ gradOutput: Tensor) -> Tensor { gradOutput.reshapedOrDie([gradOutput.shape[0], gradOutput.count / Swift.max(gradOutput.shape[0], 1)]) }
}

extension Model {
    /// The distinct T×K×P kernel problems of the adder layers at a batch size (for benchmarks).
    public func adderKernelShapes(batch: Int) -> [KernelShape] {
        var shapes: [KernelShape] = []
        let layers = Dictionary(uniqueKeysWithValues: adderLayers.map { ($0.0, $0.1) })
        for row in operationBreakdown() {
            guard let a = layers[row.name] else { continue }
            let t = a.outChannels, k = a.inChannels * a.kernel * a.kernel, p = batch * row.outputShape[1] * row.outputShape[2]
            if let i = shapes.firstIndex(where: { $0.t == t && $0.k == k && $0.p == p }) { shapes[i].names.append(row.name) } else {
                shapes.append(KernelShape(names: [row.name], t: t, k: k, p: p))
            }
        }
        return shapes
    }
}
