import AdderCore
import AdderData
import AdderNN
import Foundation

/// One fully resolved training run: every field has a value.
public struct ExperimentConfig: Sendable, Equatable {
    public var name: String
    public var description = ""
    public var model: ModelKind = .lenet5
    public var adders: Adders = .paper
    public var dataset: DatasetName = .synthetic
    public var dataDir: String?
    public var trainSamples: Int?
    public var testSamples: Int?
    public var validationFraction: Double?
    public var augment: Bool?
    public var epochs = 1
    public var batchSize = 64
    public var lr = 0.1
    public var momentum = 0.9
    public var weightDecay = 5e-4
    public var nesterov = false
    public var schedule: ScheduleKind = .cosine
    /// Steps of linear warm-up at the start.
    public var warmupSteps = 0
    /// Epochs between the step schedule's drops by `gamma`.
    public var stepSize = 1
    public var gamma = 0.1
    public var strategy: LearningRateStrategy = .adaptive
    public var eta = 0.2
    public var scale = 10.0
    public var filterGradient: AdderKernels.FilterRule = .fullPrecision
    public var inputGradient: AdderKernels.InputRule = .hardTanh
    public var seed = 0
    /// Steps between evaluations; 0 = at the end of every epoch.
    public var evalEvery = 0
    /// Steps between per-layer statistics records.
    public var layerStatsEvery = 10
    /// Steps between checkpoints; 0 = at the end of every epoch.
    public var checkpointEvery = 0
    /// Training batches whose statistics replace the batch-norm running ones before each
    /// evaluation (`batchNorm.recalibrate`); 0 = off, the running averages as trained.
    public var batchNormRecalibration = 0
    /// Steps between histogram records (histograms.jsonl: per-layer weight and output
    /// distributions with their Gaussian and Laplace fits), and one at the last step; 0 = none.
    public var histogramEvery = ExperimentConfig.defaultHistogramEvery
    public static let defaultHistogramEvery = 200
    /// Units of a feature layer before LeNet-5-BN's classifier (`featureDimensions`); 0 =
    /// none, 2 = the paper's Fig. 1 (recorded at each evaluation, see `FeatureRecord`).
    public var featureDimensions = 0

    public init(name: String) { self.name = name }

    /// η of the adaptive learning rate is > 0 and at most this, in config files, live
    /// changes and checkpoints alike.
    public static let maximumEta = 1e6

    /// True when `eta` is an η a run can take.
    public static func isValidEta(_ eta: Double) -> Bool { eta > 0 && eta <= maximumEta }

    /// Seeds stay below 2^53 so that every JSON reader holds them exactly.
    public static let maximumSeed = 1 << 53

    public var placement: AdderPlacement { adders.placement }

    /// The values of the keys that take one of a list, as written in YAML; the launcher
    /// offers these and the validation below accepts exactly these.
    public static let choices: [String: [String]] = [
        "model": ModelKind.allCases.map(\.rawValue),
        "adders": Adders.allCases.map(\.rawValue),
        "dataset": DatasetName.allCases.map(\.rawValue),
        "schedule.type": ScheduleKind.allCases.map(\.rawValue),
        "learningRate.strategy": LearningRateStrategy.allCases.map(\.rawValue),
        "gradient.filter": AdderKernels.FilterRule.allCases.map(\.rawValue),
        "gradient.input": AdderKernels.InputRule.allCases.map(\.rawValue),
        // The launcher's one field for both gradient keys: "filter/input".
        "gradient": GradientRules.choices.map(\.label),
    ]

    /// "adder" or "cnn", for tables.
    public var layerKind: String { placement.isCNN ? "cnn" : "adder" }

    /// The gradient rules every adder layer starts with.
    public var gradientRules: GradientRules { GradientRules(filter: filterGradient, input: inputGradient) }

    /// The run's gradient mode at its start (none for a CNN).
    public var gradientMode: GradientMode { placement.isCNN ? .none : .rules(gradientRules) }

    public var sgdConfiguration: SGDConfiguration {
        var c = SGDConfiguration()
        c.momentum = Float(momentum); c.weightDecay = Float(weightDecay); c.nesterov = nesterov
        c.strategy = strategy; c.eta = Float(eta); c.scale = Float(scale)
        return c
    }

    public func learningRateSchedule(stepsPerEpoch: Int) -> LearningRateSchedule {
        let shape: LearningRateSchedule.Shape
        switch schedule {
        case .cosine: shape = .cosine(totalSteps: epochs * stepsPerEpoch)
        case .step: shape = .step(stepSize: stepSize * stepsPerEpoch, gamma: Float(gamma))
        case .constant: shape = .constant
        }
        return LearningRateSchedule(base: Float(lr), shape: shape, warmupSteps: warmupSteps)
    }

    /// The resolved configuration as a tree (what config.yaml holds).
    public var tree: ConfigValue {
        var t = ConfigValue.map([])
        t.set("name", to: .string(name))
        t.set("description", to: .string(description))
        t.set("model", to: .string(model.rawValue))
        t.set("adders", to: .string(adders.rawValue))
        t.set("dataset", to: .string(dataset.rawValue))
        t.set("dataDir", to: dataDir.map { .string($0) } ?? .null)
        t.set("trainSamples", to: trainSamples.map { .int($0) } ?? .null)
        t.set("testSamples", to: testSamples.map { .int($0) } ?? .null)
        t.set("validationFraction", to: validationFraction.map { .double($0) } ?? .null)
        t.set("augment", to: augment.map { .bool($0) } ?? .null)
        t.set("epochs", to: .int(epochs))
        t.set("batchSize", to: .int(batchSize))
        t.set("optimizer.lr", to: .double(lr))
        t.set("optimizer.momentum", to: .double(momentum))
        t.set("optimizer.weightDecay", to: .double(weightDecay))
        t.set("optimizer.nesterov", to: .bool(nesterov))
        t.set("schedule.type", to: .string(schedule.rawValue))
        t.set("schedule.warmupSteps", to: .int(warmupSteps))
        t.set("schedule.stepSize", to: .int(stepSize))
        t.set("schedule.gamma", to: .double(gamma))
        t.set("learningRate.strategy", to: .string(strategy.rawValue))
        t.set("learningRate.eta", to: .double(eta))
        t.set("learningRate.scale", to: .double(scale))
        t.set("gradient.filter", to: .string(filterGradient.rawValue))
        t.set("gradient.input", to: .string(inputGradient.rawValue))
        t.set("seed", to: .int(seed))
        t.set("evalEvery", to: .int(evalEvery))
        t.set("layerStatsEvery", to: .int(layerStatsEvery))
        t.set("checkpointEvery", to: .int(checkpointEvery))
        t.set("batchNorm.recalibrate", to: .int(batchNormRecalibration))
        t.set("histogramEvery", to: .int(histogramEvery))
        t.set("featureDimensions", to: .int(featureDimensions))
        return t
    }

    /// Validates a tree (one run, without `group`) into a configuration. Every error
    /// names the key path, the bad value and what is allowed.
    public init(tree: ConfigValue, file: String? = nil) throws(ConfigError) {
        var r = TreeReader(root: tree, file: file)
        try r.requireMap("")
        guard let name = try r.string("name") else {
            throw r.error("name", "is missing; every experiment needs a name")
        }
        if let problem = RunName.problem(name) {
            throw r.error("name", "'\(name.debugDescription.dropFirst().dropLast())' \(problem); it names the run directory: \(RunName.allowed)")
        }
        self.name = name
        description = try r.string("description") ?? ""
        model = try r.choice("model", ModelKind.self) ?? .lenet5
        adders = try r.choice("adders", Adders.self) ?? .paper
        dataset = try r.choice("dataset", DatasetName.self) ?? .synthetic
        dataDir = try r.string("dataDir")
        trainSamples = try r.int("trainSamples", min: 1, max: 10_000_000)
        testSamples = try r.int("testSamples", min: 1, max: 10_000_000)
        validationFraction = try r.double("validationFraction", above: 0, below: 1)
        augment = try r.bool("augment")
        epochs = try r.int("epochs", min: 1, max: 100_000) ?? 1
        batchSize = try r.int("batchSize", min: 2, max: 65_536, why: "batch norm needs at least 2 images") ?? 64
        if try r.map("optimizer") {
            lr = try r.double("optimizer.lr", above: 0, atMost: Double(Float.greatestFiniteMagnitude)) ?? lr
            momentum = try r.double("optimizer.momentum", atLeast: 0, below: 1) ?? momentum
            weightDecay = try r.double("optimizer.weightDecay", atLeast: 0, atMost: 1) ?? weightDecay
            nesterov = try r.bool("optimizer.nesterov") ?? nesterov
            try r.finishMap("optimizer")
        }
        if try r.map("schedule") {
            schedule = try r.choice("schedule.type", ScheduleKind.self) ?? schedule
            warmupSteps = try r.int("schedule.warmupSteps", min: 0, max: 1_000_000_000) ?? warmupSteps
            stepSize = try r.int("schedule.stepSize", min: 1, max: 100_000) ?? stepSize
            gamma = try r.double("schedule.gamma", above: 0, atMost: 1) ?? gamma
            try r.finishMap("schedule")
        }
        if try r.map("learningRate") {
            strategy = try r.choice("learningRate.strategy", LearningRateStrategy.self) ?? strategy
            eta = try r.double("learningRate.eta", above: 0, atMost: ExperimentConfig.maximumEta) ?? eta
            scale = try r.double("learningRate.scale", above: 0, atMost: 1e6) ?? scale
            try r.finishMap("learningRate")
        }
        if try r.map("gradient") {
            filterGradient = try r.choice("gradient.filter", AdderKernels.FilterRule.self) ?? filterGradient
            inputGradient = try r.choice("gradient.input", AdderKernels.InputRule.self) ?? inputGradient
            try r.finishMap("gradient")
        }
        seed = try r.int("seed", min: 0, max: ExperimentConfig.maximumSeed) ?? 0
        evalEvery = try r.int("evalEvery", min: 0, max: 1_000_000_000) ?? 0
        layerStatsEvery = try r.int("layerStatsEvery", min: 1, max: 1_000_000_000) ?? 10
        checkpointEvery = try r.int("checkpointEvery", min: 0, max: 1_000_000_000) ?? 0
        if try r.map("batchNorm") {
            batchNormRecalibration = try r.int("batchNorm.recalibrate", min: 0, max: 10_000) ?? 0
            try r.finishMap("batchNorm")
        }
        histogramEvery = try r.int("histogramEvery", min: 0, max: 1_000_000_000) ?? ExperimentConfig.defaultHistogramEvery
        featureDimensions = try r.int("featureDimensions", min: 0, max: 1_000_000) ?? 0
        if featureDimensions != 0 && !Model.featureDimensionRange.contains(featureDimensions) {
            throw r.error("featureDimensions", "\(featureDimensions) is not allowed; it must be 0 (no feature layer) or 2 (the 2-D feature space that the dashboard's F view and plot --features draw)")
        }
        if featureDimensions != 0 && !Model.featureModels.contains(model) {
            throw r.error("featureDimensions", "a feature layer is built for \(Model.featureModels.map(\.rawValue).joined(separator: ", ")) only, not \(model.rawValue); leave featureDimensions out or 0")
        }
        try r.finishMap("")
        if model.inputShape != dataset.defaultShape && dataset != .synthetic {
            throw ConfigError(file: file, path: "model", message: "\(model.rawValue) takes \(model.inputShape) images but \(dataset.rawValue) has \(dataset.defaultShape); pick a matching model or dataset")
        }
        if model == .resnet18 || model == .resnet50 {
            throw ConfigError(file: file, path: "model", message: "\(model.rawValue) is an ImageNet definition (224×224) for counting; AdderLab trains lenet5, resnet20/32/56 and vgg-small")
        }
    }
}

/// Reads typed values out of a `ConfigValue` map by dotted path, remembering which keys
/// were used so that leftovers can be reported as unknown.
struct TreeReader {
    let root: ConfigValue
    let file: String?
    private var used: Set<String> = []

    init(root: ConfigValue, file: String?) { self.root = root; self.file = file }

    func error(_ path: String, _ message: String) -> ConfigError {
        ConfigError(file: file, path: path, message: message, line: line(path))
    }

    func entry(_ path: String) -> ConfigValue.Entry? {
        var node = root
        var found: ConfigValue.Entry?
        for part in path.split(separator: ".") {
            guard case .map(let entries) = node, let e = entries.first(where: { $0.key == part }) else { return nil }
            found = e; node = e.value
        }
        return found
    }

    func line(_ path: String) -> Int? { entry(path)?.line }

    /// Keys whose null means "not set" (config.yaml writes them so); for every other key a
    /// null is an error, never a silent default.
    static let nullable: Set<String> = ["dataDir", "trainSamples", "testSamples", "validationFraction", "augment", "description",
                                        "optimizer", "schedule", "learningRate", "gradient", "batchNorm"]

    mutating func value(_ path: String) throws(ConfigError) -> ConfigValue? {
        used.insert(path)
        guard let v = entry(path)?.value else { return nil }
        if case .null = v {
            if TreeReader.nullable.contains(path) { return nil }
            throw error(path, "is null (or empty); give it a value or leave the key out for the default")
        }
        return v
    }

    mutating func requireMap(_ path: String) throws(ConfigError) {
        if path.isEmpty {
            guard case .map = root else { throw error("", "must be a map of keys (name, model, dataset, …), found \(root)") }
        }
    }

    /// True when a map is present at `path`; throws when something else is.
    mutating func map(_ path: String) throws(ConfigError) -> Bool {
        guard let v = try value(path) else { return false }
        guard case .map = v else { throw error(path, "must be a map, found \(v)") }
        return true
    }

    /// Reports keys of the map at `path` that nothing read.
    func finishMap(_ path: String) throws(ConfigError) {
        let node = path.isEmpty ? root : (entry(path)?.value ?? .null)
        guard case .map(let entries) = node else { return }
        let prefix = path.isEmpty ? "" : path + "."
        let known = used.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.filter { !$0.contains(".") }
        for e in entries where !known.contains(e.key) {
            throw ConfigError(file: file, path: prefix + e.key,
                              message: "is not a known key; expected one of \(known.sorted().joined(separator: ", "))", line: e.line)
        }
    }

    mutating func string(_ path: String, pattern: String? = nil, what: String = "") throws(ConfigError) -> String? {
        guard let v = try value(path) else { return nil }
        guard case .string(let s) = v else { throw error(path, "must be a string, found \(v)") }
        if let pattern, s.range(of: pattern, options: .regularExpression) == nil {
            throw error(path, "'\(s)' is not allowed; use \(what)")
        }
        return s
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ path: String, _: T.Type) throws(ConfigError) -> T? where T.RawValue == String {
        guard let s = try string(path) else { return nil }
        guard let v = T(rawValue: s) else {
            throw error(path, "'\(s)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    mutating func bool(_ path: String) throws(ConfigError) -> Bool? {
        guard let v = try value(path) else { return nil }
        guard case .bool(let b) = v else { throw error(path, "must be true or false, found \(v)") }
        return b
    }

    mutating func int(_ path: String, min: Int, max: Int, why: String? = nil) throws(ConfigError) -> Int? {
        guard let v = try value(path) else { return nil }
        let range = "from \(min) to \(max)"
        guard case .int(let i) = v else {
            // A whole number too large for Int arrives as a double.
            if case .double(let d) = v, d == d.rounded(), abs(d) >= 9.2e18 { throw error(path, "\(v) is out of range; it must be a whole number \(range)") }
            if case .string(let text) = v, Int(text) != nil { throw error(path, "must be a whole number \(range), found the string '\(text)' (write it without quotes)") }
            throw error(path, "must be a whole number \(range), found \(v)")
        }
        guard i >= min else { throw error(path, "\(i) is too small; it must be at least \(min)" + (why.map { " (\($0))" } ?? "")) }
        guard i <= max else { throw error(path, "\(i) is too large; it must be at most \(max)") }
        return i
    }

    mutating func double(_ path: String, above: Double? = nil, atLeast: Double? = nil, below: Double? = nil,
                         atMost: Double? = nil) throws(ConfigError) -> Double? {
        guard let v = try value(path) else { return nil }
        let d: Double
        switch v {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default: throw error(path, "must be a number, found \(v)")
        }
        guard d.isFinite else { throw error(path, "\(d) must be a finite number") }
        // Training uses 32-bit floats: a value that becomes 0 or ∞ there is refused.
        guard d == 0 || (Float(d) != 0 && Float(d).isFinite) else {
            throw error(path, "\(d) cannot be held by a 32-bit float (magnitudes from about 1e-38 to 3e38)")
        }
        var rules: [String] = []
        if let above { rules.append("> \(above)") }
        if let atLeast { rules.append("≥ \(atLeast)") }
        if let below { rules.append("< \(below)") }
        if let atMost { rules.append("≤ \(atMost)") }
        let ok = (above.map { d > $0 } ?? true) && (atLeast.map { d >= $0 } ?? true)
            && (below.map { d < $0 } ?? true) && (atMost.map { d <= $0 } ?? true)
        guard ok else { throw error(path, "\(d) is out of range; it must be \(rules.joined(separator: " and "))") }
        return d
    }
}

extension ExperimentConfig {
    /// Why no training batch could be made — the batch is larger than the training images
    /// (`trainSamples`, or the dataset's standard count, less the validation part) — or nil.
    public var batchProblem: String? {
        let standard = dataset.standardTrainingImages
        let afterValidation = validationFraction.map { Int(Double(standard) * (1 - $0)) } ?? standard
        let images = min(trainSamples ?? Int.max, afterValidation)
        guard batchSize > images else { return nil }
        return "batch \(batchSize) is more than the \(images) training images"
            + (trainSamples != nil && trainSamples! <= afterValidation ? " (trainSamples)" : " of \(dataset.rawValue)")
            + ": no batch would be made (the last partial batch is dropped)"
    }
}
