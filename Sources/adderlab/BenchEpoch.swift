import AdderCore
import AdderData
import AdderNN
import AdderTrain
import ArgumentParser
import Foundation

extension BenchCommand {
    /// The training runs `bench epoch` times: a dataset, a model and its batch.
    enum Workload: String, CaseIterable, ExpressibleByArgument {
        case fashionLenet5 = "fashion-lenet5"
        case cifarResnet20 = "cifar-resnet20"

        var model: ModelKind { self == .fashionLenet5 ? .lenet5 : .resnet20 }
        var dataset: DatasetName { self == .fashionLenet5 ? .fashionMNIST : .synthetic }
        var batch: Int { self == .fashionLenet5 ? 64 : 128 }
        /// CIFAR's random crop and flip for the CIFAR-format set, as a CIFAR run has them.
        var augment: Bool { self == .cifarResnet20 }
    }

    /// Images per second over whole epochs as `adderlab run` trains them — batch preparation and
    /// augmentation, evaluation, metrics, histograms and checkpoints in a run directory included —
    /// next to the rate of the training steps alone.
    struct Epoch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Images/s of whole training runs (data, augmentation, evaluation, metrics and checkpoints included) next to the step rate.",
            discussion: """
                fashion-lenet5: LeNet-5-BN on Fashion-MNIST (Debian's dataset-fashion-mnist), batch 64. cifar-resnet20: ResNet-20 \
                on the synthetic set drawn at 32×32×3 with CIFAR's crop and flip, batch 128. Each trains in a temporary run \
                directory, removed afterwards. "steps" is the rate of the run's own training steps (the time of model.trainStep \
                only); "bench step" that of --step-repeats steps timed alone on random data first, as `bench train` times them.
                """)
        @Option(name: .long, help: "Only this workload (default: both): \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
        var workload: Workload?
        @Option(name: .long, help: "The network (default: fp, the AdderNet with the paper's rules).") var variant: Variant = .fp
        @Option(name: .long, help: "Epochs, 1 to 100.") var epochs = 1
        @Option(name: .long, help: "Training images (default: the whole set: 60,000 Fashion-MNIST, 10,000 synthetic); at least one batch.")
        var trainSamples: Int?
        @Option(name: .long, help: "Test images evaluated at each epoch's end, 1 to 10000000 (default: the whole test set).")
        var testSamples: Int?
        @Option(name: .long, help: "Steps timed alone for the bench-step rate, 1 to 1000.") var stepRepeats = 5
        @OptionGroup var threads: ThreadOption
        @Flag(name: .long, help: "Print JSON instead of a table.") var json = false

        func validate() throws {
            if epochs < 1 || epochs > 100 { throw ValidationError("--epochs must be from 1 to 100, got \(epochs)") }
            let batch = workload.map { [$0.batch] } ?? Workload.allCases.map(\.batch)
            if let trainSamples, trainSamples < batch.max()! || trainSamples > 10_000_000 {
                throw ValidationError("--train-samples must be from \(batch.max()!) (one batch of \(workload?.rawValue ?? "every workload")) to 10000000, got \(trainSamples)")
            }
            if let testSamples, testSamples < 1 || testSamples > 10_000_000 {
                throw ValidationError("--test-samples must be from 1 to 10000000, got \(testSamples)")
            }
            if stepRepeats < 1 || stepRepeats > 1000 { throw ValidationError("--step-repeats must be from 1 to 1000, got \(stepRepeats)") }
        }

        func run() throws {
            var rows: [[String]] = [], items: [JSON.Value] = []
            for w in Workload.allCases where workload == nil || workload == w {
                let r = try measure(w)
                rows.append([w.rawValue, String(r.images), String(format: "%.1f", r.wall), String(format: "%.0f", r.epochRate),
                             String(format: "%.0f", r.stepRate), String(format: "%.0f", r.benchStepRate),
                             String(format: "%.2f", r.epochRate / r.benchStepRate), String(format: "%.2f", r.startup),
                             String(format: "%.2f", r.evaluation), String(format: "%.2f", r.wall - r.steps - r.startup - r.evaluation)])
                items.append(.object([("workload", .string(w.rawValue)), ("variant", .string(variant.rawValue)),
                                      ("threads", .int(threads.count)), ("openblasCore", .string(BLAS.coreName)), ("images", .int(r.images)),
                                      ("seconds", .number(r.wall)), ("epochImagesPerSecond", .number(r.epochRate)),
                                      ("stepImagesPerSecond", .number(r.stepRate)), ("benchStepImagesPerSecond", .number(r.benchStepRate)),
                                      ("stepSeconds", .number(r.steps)), ("startupSeconds", .number(r.startup)),
                                      ("evaluationSeconds", .number(r.evaluation)), ("testAccuracy", .number(r.accuracy))]))
            }
            if json { Console.line(JSON.encode(.array(items))); return }
            Console.line("variant \(variant.rawValue), \(epochs) epoch\(epochs == 1 ? "" : "s"), threads \(threads.count), OpenBLAS \(BLAS.coreName); images/s over the whole run, of its steps, and of \(stepRepeats) bench steps; seconds\n")
            Console.line(table(header: ["workload", "images", "run s", "run img/s", "steps img/s", "bench step img/s", "run/bench",
                                        "start-up s", "eval s", "rest s"], rows: rows))
        }

        struct Result {
            var images: Int
            /// Seconds: the whole run, its training steps, until its first step began, its evaluations.
            var wall, steps, startup, evaluation: Double
            var benchStepRate: Double
            var accuracy: Double
            var epochRate: Double { Double(images) / wall }
            var stepRate: Double { Double(images) / steps }
        }

        func measure(_ w: Workload) throws -> Result {
            var config = ExperimentConfig(name: "bench-" + w.rawValue)
            config.model = w.model; config.dataset = w.dataset; config.batchSize = w.batch; config.augment = w.augment
            config.epochs = epochs; config.trainSamples = trainSamples; config.testSamples = testSamples; config.seed = 1
            let (_, placement, rules) = variant.setup
            config.adders = placement.isCNN ? .cnn : .paper
            if let rules { config.filterGradient = rules.0; config.inputGradient = rules.1 }
            let bench = try Parallel.withThreads(threads.count) { () throws -> Double in try benchStepRate(w, placement, rules) }
            let runs = FileManager.default.temporaryDirectory.appendingPathComponent("adderlab-bench-epoch-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: runs) }
            let t0 = Date()
            let run = try TrainingRun(config: config, runsDirectory: runs, threads: threads.count)
            run.start()
            let s = run.wait()
            let wall = Date().timeIntervalSince(t0)
            guard s.state == .finished, let first = s.steps.first else {
                throw failure("error: \(w.rawValue): the run ended \(s.state.rawValue)\(s.message.isEmpty ? "" : ": " + s.message)")
            }
            // A step record's rate is its batch over the time of that step alone.
            let stepTimes = s.steps.map { Double(w.batch) / $0.imagesPerSecond }
            // Each evaluation runs after its step's records: from that step's record to the evaluation's.
            let stepTime = Dictionary(s.steps.map { ($0.step, $0.time) }, uniquingKeysWith: { a, _ in a })
            let evaluation = s.evals.reduce(0.0) { $0 + ($1.time - (stepTime[$1.step] ?? $1.time)) }
            return Result(images: s.steps.count * w.batch, wall: wall, steps: stepTimes.reduce(0, +), startup: first.time - stepTimes[0],
                          evaluation: evaluation, benchStepRate: bench, accuracy: s.evals.last?.testAccuracy ?? 0)
        }

        /// Images/s of `stepRepeats` steps on random data after a warm-up, as `bench train` times them.
        func benchStepRate(_ w: Workload, _ placement: AdderPlacement, _ rules: (AdderKernels.FilterRule, AdderKernels.InputRule)?) throws -> Double {
            let m = Model(w.model, placement: placement, seed: 1)
            if let rules { m.setGradientRules(filter: rules.0, input: rules.1) }
            m.recordsOutputStatistics = false
            var g = SeededGenerator(seed: 2)
            let x = Tensor.normal(shape: [w.batch] + w.model.inputShape, generator: &g)
            let labels = (0..<w.batch).map { $0 % m.classes }
            let opt = SGD(parameters: m.namedParameters)
            let t = Timing.measure(repeats: stepRepeats) { m.trainStep(images: x, labels: labels, optimizer: opt, learningRate: 0.01) }
            return Double(w.batch) / t.median
        }
    }
}
