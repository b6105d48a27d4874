import AdderCore
import AdderNN
import AdderTrain
import ArgumentParser
import COpenBLAS
import Foundation

/// `adderlab bench`: kernel and training-step throughput, as a benchmark (not a test).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the adder kernels against OpenBLAS sgemm, and training steps per model.",
        subcommands: [Kernels.self, Train.self, Epoch.self]
    )

    struct Options: ParsableArguments {
        @OptionGroup var threads: ThreadOption
        @Option(name: .long, help: "Timed repetitions after the warm-up.") var repeats = 5
        @Flag(name: .long, help: "Print JSON instead of a table.") var json = false

        func validate() throws {
            if repeats < 1 || repeats > 100_000 { throw ValidationError("--repeats must be from 1 to 100000, got \(repeats)") }
        }
    }

    struct Kernels: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Adder forward / input-gradient / filter-gradient in G pairs/s, against sgemm on the same M×N×K in G MAC/s, for each adder layer of LeNet-5-BN (batch 64) and ResNet-20 (batch 128).")
        @OptionGroup var options: Options

        func run() throws { try Parallel.withThreads(options.threads.count) { () throws -> Void in try measure() } }

        func measure() throws {
            var rows: [[String]] = [], macRows: [[String]] = [], items: [JSON.Value] = []
            for (kind, batch) in [(ModelKind.lenet5, 64), (.resnet20, 128)] {
                for shape in Model(kind, placement: .paper).adderKernelShapes(batch: batch) {
                    let r = KernelBenchmark.run(shape, repeats: options.repeats)
                    macRows.append([kind.rawValue, shape.label, String(format: "%.1f", r.macInput.median), String(format: "%.1f", r.blasInput.median),
                                    String(format: "%.2f", r.macInput.median / r.blasInput.median)])
                    rows.append([kind.rawValue, shape.label, String(format: "%.1f", r.forward.median), String(format: "%.1f", r.input.median),
                                 String(format: "%.1f", r.filterSign.median), String(format: "%.1f", r.filterFP.median),
                                 String(format: "%.1f", r.sgemm.median), String(format: "%.2f", r.forward.median / r.sgemm.median)])
                    items.append(.object([("model", .string(kind.rawValue)), ("layers", .string(shape.names.joined(separator: ","))),
                                          ("T", .int(shape.t)), ("K", .int(shape.k)), ("P", .int(shape.p)),
                                          ("forwardGPairsPerSecond", r.forward.json), ("inputGradientHardTanhGPairsPerSecond", r.input.json),
                                          ("filterGradientSignGPairsPerSecond", r.filterSign.json),
                                          ("filterGradientFullPrecisionGPairsPerSecond", r.filterFP.json),
                                          ("sgemmGMACPerSecond", r.sgemm.json), ("forwardOverSgemm", .number(r.forward.median / r.sgemm.median)),
                                          ("macInputGradientGMACPerSecond", r.macInput.json),
                                          ("sgemmInputGradientGMACPerSecond", r.blasInput.json)]))
                }
            }
            if options.json { Console.line(JSON.encode(.array(items))) } else {
                Console.line("threads \(Parallel.threads), OpenBLAS \(BLAS.coreName); median of \(options.repeats) after a warm-up; G pairs/s (adder), G MAC/s (sgemm)\n")
                Console.line(table(header: ["model", "layer shape T×K×P", "fwd", "dX ht", "dW sign", "dW fp", "sgemm", "fwd/sgemm"], rows: rows))
                Console.line("\nconvolution input gradient dX = Wᵀ·G: MACKernels against OpenBLAS, G MAC/s\n")
                Console.line(table(header: ["model", "layer shape T×K×P", "MACKernels", "sgemm", "ratio"], rows: macRows))
            }
        }
    }

    /// The networks `bench train` times.
    enum Variant: String, CaseIterable, ExpressibleByArgument {
        case cnn, fp, sign

        /// Table label, adder placement and gradient rules (nil: a CNN has none).
        var setup: (String, AdderPlacement, (AdderKernels.FilterRule, AdderKernels.InputRule)?) {
            switch self {
            case .cnn: ("cnn", .cnn, nil)
            case .fp: ("adder fp/hardTanh", .paper, (.fullPrecision, .hardTanh))
            case .sign: ("adder sign/sign", .paper, (.sign, .sign))
            }
        }
    }

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Milliseconds per training step (forward, backward, SGD) and images/s for the CNN, the AdderNet with the full-precision rules and with the sign rules; peak resident memory.",
            discussion: "Steps run without the per-layer output statistics, as the trainer runs all but one step in layerStatsEvery (10 by default). Under mpirun (`mpirun -np N adderlab bench train`) each rank takes 1/N of the batch, data-parallel as `adderlab run` trains, and rank 0 prints the whole batch's rate and the time spent in collective calls.")
        @Option(name: .long, help: "The model (a CIFAR model or lenet5).") var model: ModelKind = .lenet5
        @Option(name: .long, help: "Batch size (default: 64 for LeNet-5-BN, 128 otherwise).") var batch: Int?
        @Option(name: .long, help: "Only this variant (default: all three; one is handy under a profiler).") var variant: Variant?
        @Flag(name: .long, help: "Also print milliseconds per step by part (adder forward, adder input and filter gradients, GEMM, batch norm, im2col/col2im, elementwise, optimizer), measured on the timed steps.")
        var breakdown = false
        @OptionGroup var options: Options

        func validate() throws {
            if model == .resnet18 || model == .resnet50 { throw ValidationError("\(model.rawValue) is an ImageNet definition; bench a CIFAR model or lenet5") }
            if let batch, batch < 2 || batch > 4096 { throw ValidationError("--batch must be from 2 (batch norm) to 4096, got \(batch)") }
        }

        func run() throws {
            let ranks: MPICollective?
            do { ranks = try MPICollective.fromEnvironment() } catch { throw failure("error: \(error)") }
            defer { ranks?.finalize() }
            try Parallel.withThreads(options.threads.count) { () throws -> Void in try measure(ranks: ranks) }
        }

        func measure(ranks: MPICollective?) throws {
            let kind = model
            let n = batch ?? (kind == .lenet5 ? 64 : 128)
            let size = ranks?.size ?? 1
            guard n % size == 0 else {
                throw (ranks?.rank ?? 0) == 0 ? failure("error: --batch \(n) does not split into \(size) equal shares, one per rank: use a multiple of \(size)") : ExitCode(1)
            }
            var rows: [[String]] = [], items: [JSON.Value] = [], breakdowns: [(String, StepBreakdown)] = []
            for v in Variant.allCases where variant == nil || variant == v {
                let (name, placement, rules) = v.setup
                Memory.releaseFreedBlocks()   // the previous variant's model is gone; drop its pages
                Memory.resetPeakResident()
                let m = Model(kind, placement: placement, seed: 1)
                m.collective = ranks
                if let rules { m.setGradientRules(filter: rules.0, input: rules.1) }
                // As on 9 of every 10 training steps (layerStatsEvery: 10): no output statistics.
                m.recordsOutputStatistics = false
                var g = SeededGenerator(seed: 2)
                // This rank's share of the batch (all of it without ranks).
                let x = Tensor.normal(shape: [n / size] + kind.inputShape, generator: &g)
                let labels = (0..<n / size).map { $0 % m.classes }
                let opt = SGD(parameters: m.namedParameters)
                let before = ranks?.secondsInCalls ?? 0
                var t: Timing
                var breakdownJSON: [(String, JSON.Value)] = []
                if breakdown {
                    let b = m.profiledSteps(images: x, labels: labels, optimizer: opt, learningRate: 0.01, repeats: options.repeats)
                    t = b.timing
                    breakdowns.append((name, b))
                    breakdownJSON = [("breakdownMs", .object(zip(StepProfile.Part.allCases, b.parts).map { ($0.label, .number($1 * 1e3)) }
                                                               + [("other", .number(b.other * 1e3))])),
                                     ("meanMsPerStep", .number(b.meanStep * 1e3))]
                } else {
                    t = Timing.measure(repeats: options.repeats) { m.trainStep(images: x, labels: labels, optimizer: opt, learningRate: 0.01) }
                }
                // The warm-up step's collective time is counted too: the share is over repeats + 1 steps.
                let collective = ((ranks?.secondsInCalls ?? 0) - before) / Double(options.repeats + 1)
                // The gradient sum alone, the ranks first brought together by a small sum: what
                // the step's collective time is when no rank waits for another.
                let allreduce = ranks.map { r -> Double in
                    var gradients = [Float](repeating: 1, count: m.parameterCount), together = [0.0]
                    return Timing.measure(repeats: 20) { r.sum(&together); r.sum(&gradients) }.median
                } ?? 0
                let peak = Memory.peakResidentMiB()
                rows.append([name, String(format: "%.2f", t.median * 1e3), String(format: "%.2f–%.2f", t.min * 1e3, t.max * 1e3),
                             String(format: "%.0f", Double(n) / t.median), String(format: "%.0f", peak)]
                            + (ranks == nil ? [] : [String(format: "%.2f", collective * 1e3), String(format: "%.2f", allreduce * 1e3)]))
                items.append(.object([("variant", .string(name)), ("msPerStep", .number(t.median * 1e3)), ("msMin", .number(t.min * 1e3)),
                                      ("msMax", .number(t.max * 1e3)), ("imagesPerSecond", .number(Double(n) / t.median)),
                                      ("peakResidentMiB", .number(peak))] + breakdownJSON
                                     + (ranks == nil ? [] : [("collectiveMsPerStep", .number(collective * 1e3)),
                                                             ("gradientAllreduceMs", .number(allreduce * 1e3))])))
            }
            guard (ranks?.rank ?? 0) == 0 else { return }
            if options.json {
                Console.line(JSON.encode(.object([("model", .string(model.rawValue)), ("batch", .int(n)), ("threads", .int(Parallel.threads)), ("ranks", .int(size)),
                                                  ("openblasCore", .string(BLAS.coreName)), ("variants", .array(items))])))
            } else {
                let over = ranks.map { ", \($0.size) ranks of \(n / $0.size) images each (rank 0's figures)" } ?? ""
                Console.line("\(model.rawValue), batch \(n), threads \(Parallel.threads)\(over), OpenBLAS \(BLAS.coreName); median (min–max) of \(options.repeats) steps after a warm-up\n")
                Console.line(table(header: ["variant", "ms/step", "spread", "images/s", "peak MiB"] + (ranks == nil ? [] : ["collective ms", "allreduce ms"]), rows: rows))
                if let ranks {
                    Console.line("\ncollective ms: per step in MPI calls, waiting for the other ranks included; allreduce ms: one sum of the gradients (\(ranks.size) ranks) with no rank waiting")
                }
                if !breakdowns.isEmpty {
                    Console.line("\nms per step by part, mean of the \(options.repeats) timed steps (share of the mean step)\n")
                    Console.line(table(header: ["part"] + breakdowns.map(\.0), rows: Train.breakdownRows(breakdowns.map(\.1))))
                }
            }
        }

        /// One row per part, then "other" (the step less the parts) and the mean step: "12.34 (5.6%)".
        static func breakdownRows(_ b: [StepBreakdown]) -> [[String]] {
            func cell(_ seconds: Double, _ step: Double) -> String { String(format: "%.2f (%.1f%%)", seconds * 1e3, 100 * seconds / step) }
            return StepProfile.Part.allCases.map { part in [part.label] + b.map { cell($0.parts[part.rawValue], $0.meanStep) } }
                + [["other"] + b.map { cell($0.other, $0.meanStep) }, ["step"] + b.map { cell($0.meanStep, $0.meanStep) }]
        }
    }
}

extension Timing {
    var json: JSON.Value { .object([("median", .number(median)), ("min", .number(min)), ("max", .number(max))]) }
}
