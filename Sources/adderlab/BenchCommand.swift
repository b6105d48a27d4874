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
        subcommands: [Kernels.self, Train.self]
    )

    struct Options: ParsableArguments {
        @Option(name: .long, help: "Threads for kernels (default: all cores).") var threads: Int?
        @Option(name: .long, help: "Timed repetitions after the warm-up.") var repeats = 5
        @Flag(name: .long, help: "Print JSON instead of a table.") var json = false

        func validate() throws {
            if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be from 1 to 256, got \(threads)") }
            if repeats < 1 || repeats > 100_000 { throw ValidationError("--repeats must be from 1 to 100000, got \(repeats)") }
        }
        func apply() { if let threads { Parallel.threads = threads } }
    }

    struct Kernels: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Adder forward / input-gradient / filter-gradient in G pairs/s, against sgemm on the same M×N×K in G MAC/s, for each adder layer of LeNet-5-BN (batch 64) and ResNet-20 (batch 128).")
        @OptionGroup var options: Options

        func run() throws {
            options.apply()
            var rows: [[String]] = [], macRows: [[String]] = [], items: [JSON.Value] = []
            for (kind, batch) in [(ModelKind.lenet5, 64), (.resnet20, 128)] {
                for shape in adderShapes(kind, batch: batch) {
                    let r = benchKernels(shape, repeats: options.repeats)
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
            if options.json { print(JSON.encode(.array(items))) } else {
                print("threads \(Parallel.threads); median of \(options.repeats) after a warm-up; G pairs/s (adder), G MAC/s (sgemm)\n")
                print(table(header: ["model", "layer shape T×K×P", "fwd", "dX ht", "dW sign", "dW fp", "sgemm", "fwd/sgemm"], rows: rows))
                print("\nconvolution input gradient dX = Wᵀ·G: MACKernels against OpenBLAS, G MAC/s\n")
                print(table(header: ["model", "layer shape T×K×P", "MACKernels", "sgemm", "ratio"], rows: macRows))
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
            discussion: "Steps run without the per-layer output statistics, as the trainer runs all but one step in layerStatsEvery (10 by default).")
        @Option(name: .long, help: "lenet5 or resnet20 (any model name works).") var model = "lenet5"
        @Option(name: .long, help: "Batch size (default: 64 for LeNet-5-BN, 128 otherwise).") var batch: Int?
        @Option(name: .long, help: "Only this variant (default: all three; one is handy under a profiler).") var variant: Variant?
        @OptionGroup var options: Options

        func validate() throws {
            guard let k = ModelKind(rawValue: model) else {
                throw ValidationError("unknown model '\(model)'; expected one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if k == .resnet18 || k == .resnet50 { throw ValidationError("\(model) is an ImageNet definition; bench a CIFAR model or lenet5") }
            if let batch, batch < 2 || batch > 4096 { throw ValidationError("--batch must be from 2 (batch norm) to 4096, got \(batch)") }
        }

        func run() throws {
            options.apply()
            let kind = ModelKind(rawValue: model)!
            let n = batch ?? (kind == .lenet5 ? 64 : 128)
            var rows: [[String]] = [], items: [JSON.Value] = []
            for v in Variant.allCases where variant == nil || variant == v {
                let (name, placement, rules) = v.setup
                Memory.releaseFreedBlocks()   // the previous variant's model is gone; drop its pages
                resetPeakMemory()
                let m = Model(kind, placement: placement, seed: 1)
                if let rules { m.setGradientRules(filter: rules.0, input: rules.1) }
                // As on 9 of every 10 training steps (layerStatsEvery: 10): no output statistics.
                m.recordsOutputStatistics = false
                var g = SeededGenerator(seed: 2)
                let x = Tensor.normal(shape: [n] + kind.inputShape, generator: &g)
                let labels = (0..<n).map { $0 % m.classes }
                let opt = SGD(parameters: m.namedParameters)
                let t = measure(repeats: options.repeats) { m.trainStep(images: x, labels: labels, optimizer: opt, learningRate: 0.01) }
                let peak = peakMemoryMiB()
                rows.append([name, String(format: "%.2f", t.median * 1e3), String(format: "%.2f–%.2f", t.min * 1e3, t.max * 1e3),
                             String(format: "%.0f", Double(n) / t.median), String(format: "%.0f", peak)])
                items.append(.object([("variant", .string(name)), ("msPerStep", .number(t.median * 1e3)), ("msMin", .number(t.min * 1e3)),
                                      ("msMax", .number(t.max * 1e3)), ("imagesPerSecond", .number(Double(n) / t.median)),
                                      ("peakResidentMiB", .number(peak))]))
            }
            if options.json {
                print(JSON.encode(.object([("model", .string(model)), ("batch", .int(n)), ("threads", .int(Parallel.threads)), ("variants", .array(items))])))
            } else {
                print("\(model), batch \(n), threads \(Parallel.threads); median (min–max) of \(options.repeats) steps after a warm-up\n")
                print(table(header: ["variant", "ms/step", "spread", "images/s", "peak MiB"], rows: rows))
            }
        }
    }
}

// MARK: measurement

struct Timing {
    var median: Double, min: Double, max: Double
    var json: JSON.Value { .object([("median", .number(median)), ("min", .number(min)), ("max", .number(max))]) }
}

/// Seconds per call: one warm-up call, then `repeats` timed calls.
func measure(repeats: Int, _ body: () -> Void) -> Timing {
    body()
    var times: [Double] = []
    for _ in 0..<repeats {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    times.sort()
    return Timing(median: times[times.count / 2], min: times.first!, max: times.last!)
}

/// Throughput in G per second from seconds per call and work per call.
func rate(_ t: Timing, work: Double) -> Timing {
    Timing(median: work / t.median / 1e9, min: work / t.max / 1e9, max: work / t.min / 1e9)
}

struct KernelShape {
    var names: [String]
    var t: Int, k: Int, p: Int
    var label: String { "\(t)×\(k)×\(p)" + (names.count > 1 ? " (\(names.count) layers)" : "") }
}

/// The distinct T×K×P shapes of a model's adder layers at a batch size.
func adderShapes(_ kind: ModelKind, batch: Int) -> [KernelShape] {
    let m = Model(kind, placement: .paper)
    var shapes: [KernelShape] = []
    let layers = Dictionary(uniqueKeysWithValues: m.adderLayers.map { ($0.0, $0.1) })
    for row in m.operationBreakdown() {
        guard let a = layers[row.name] else { continue }
        let t = a.outChannels, k = a.inChannels * a.kernel * a.kernel, p = batch * row.outputShape[1] * row.outputShape[2]
        if let i = shapes.firstIndex(where: { $0.t == t && $0.k == k && $0.p == p }) { shapes[i].names.append(row.name) } else {
            shapes.append(KernelShape(names: [row.name], t: t, k: k, p: p))
        }
    }
    return shapes
}

struct KernelResult {
    var forward, input, filterSign, filterFP, sgemm: Timing
    /// The multiply-accumulate input gradient dX = Wᵀ·G against OpenBLAS (G MAC/s).
    var macInput, blasInput: Timing
}

func benchKernels(_ s: KernelShape, repeats: Int) -> KernelResult {
    var g = SeededGenerator(seed: 3)
    let w = Tensor.normal(shape: [s.t * s.k], generator: &g), x = Tensor.normal(shape: [s.k * s.p], generator: &g)
    let gr = Tensor.normal(shape: [s.t * s.p], generator: &g)
    var y = Tensor(shape: [s.t * s.p]), dx = Tensor(shape: [s.k * s.p]), dw = Tensor(shape: [s.t * s.k])
    let pairs = Double(s.t * s.k * s.p)
    return w.withUnsafeBufferPointer { wb in
        x.withUnsafeBufferPointer { xb in
            gr.withUnsafeBufferPointer { gb in
                y.withUnsafeMutableBufferPointer { yb in
                    dx.withUnsafeMutableBufferPointer { dxb in
                        dw.withUnsafeMutableBufferPointer { dwb in
                            let W = wb.baseAddress!, X = xb.baseAddress!, G = gb.baseAddress!
                            let Y = yb.baseAddress!, DX = dxb.baseAddress!, DW = dwb.baseAddress!
                            let f = measure(repeats: repeats) { AdderKernels.forward(w: W, x: X, y: Y, t: s.t, k: s.k, p: s.p) }
                            let i = measure(repeats: repeats) {
                                AdderKernels.inputGradient(rule: .hardTanh, w: W, x: X, g: G, dx: DX, t: s.t, k: s.k, p: s.p)
                            }
                            let fs = measure(repeats: repeats) {
                                AdderKernels.filterGradient(rule: .sign, w: W, x: X, g: G, dw: DW, t: s.t, k: s.k, p: s.p)
                            }
                            let ff = measure(repeats: repeats) {
                                AdderKernels.filterGradient(rule: .fullPrecision, w: W, x: X, g: G, dw: DW, t: s.t, k: s.k, p: s.p)
                            }
                            let mm = measure(repeats: repeats) {
                                BLAS.sgemm(m: s.t, n: s.p, k: s.k, a: W, lda: s.k, b: X, ldb: s.p, c: Y, ldc: s.p)
                            }
                            let mi = measure(repeats: repeats) { MACKernels.inputGradient(w: W, g: G, dx: DX, t: s.t, k: s.k, p: s.p) }
                            let bi = measure(repeats: repeats) {
                                BLAS.sgemm(transA: true, m: s.k, n: s.p, k: s.t, a: W, lda: s.k, b: G, ldb: s.p, c: DX, ldc: s.p)
                            }
                            return KernelResult(forward: rate(f, work: pairs), input: rate(i, work: pairs), filterSign: rate(fs, work: pairs),
                                                filterFP: rate(ff, work: pairs), sgemm: rate(mm, work: pairs),
                                                macInput: rate(mi, work: pairs), blasInput: rate(bi, work: pairs))
                        }
                    }
                }
            }
        }
    }
}

/// Resets the kernel's peak-RSS counter for this process (Linux ≥ 4.0).
func resetPeakMemory() {
    if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") { h.write(Data("5".utf8)); try? h.close() }
}

/// VmHWM: the peak resident set size since the last reset, in MiB.
func peakMemoryMiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
    return kb / 1024
}

