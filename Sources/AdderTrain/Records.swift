import AdderNN
import Foundation

/// The life of a run.
public enum RunState: String, Sendable, Codable, CaseIterable {
    /// Started, loading its data and building its model.
    case starting
    case running, paused, finished, stopped, diverged, failed
    /// Waiting in this process's `RunQueue` (never written to a run directory).
    case queued
    /// Read from a run directory whose last state is running or paused: the process was
    /// killed (it can be resumed) or is still training elsewhere.
    case interrupted

    /// Nothing more will happen in this process.
    public var isTerminal: Bool { [.finished, .stopped, .diverged, .failed, .interrupted].contains(self) }
}

/// One training step.
public struct StepRecord: Sendable, Equatable {
    public var step: Int
    public var epoch: Double
    public var loss: Double
    public var learningRate: Double
    public var imagesPerSecond: Double
    /// Top-1 accuracy on this step's batch.
    public var batchAccuracy: Double
    /// Seconds since the run started (across resumes: since the first start).
    public var time: Double
}

/// Batch-norm drift of one layer (see `BatchNorm.drift()`).
public struct DriftRecord: Sendable, Equatable {
    public var name: String
    public var meanGap: Double
    public var logVarianceRatio: Double
}

/// One evaluation on the test (or validation) set.
public struct EvalRecord: Sendable, Equatable {
    public var step: Int
    public var epoch: Double
    public var testLoss: Double
    public var testAccuracy: Double
    /// Test accuracy when batch norm uses each test batch's own statistics.
    public var testAccuracyBatchStatistics: Double
    /// Mean batch accuracy over the training steps since the previous evaluation.
    public var trainAccuracy: Double
    public var time: Double
    public var drift: [DriftRecord]
}

/// Per-layer statistics at one step.
public struct LayerRecord: Sendable, Equatable {
    /// One layer's numbers (the model's own type, named here so that readers of runs
    /// need not import the network module).
    public typealias Layer = LayerStatistics
    public var step: Int
    public var layers: [Layer]
}

/// The distributions of one layer at one step: its filter weights, and its outputs on that
/// step's training batch (nil when they were not kept).
public struct LayerHistograms: Sendable, Equatable {
    public var name: String
    /// The layer's type ("Adder2d", "Conv2d", "Linear").
    public var type: String
    public var weights: Histogram
    public var outputs: Histogram?
    public init(name: String, type: String, weights: Histogram, outputs: Histogram?) {
        self.name = name; self.type = type; self.weights = weights; self.outputs = outputs
    }
}

/// Every layer's distributions at one step (a line of histograms.jsonl).
public struct HistogramRecord: Sendable, Equatable {
    public var step: Int
    public var layers: [LayerHistograms]
    public init(step: Int, layers: [LayerHistograms]) { self.step = step; self.layers = layers }
}

/// A control action or a state change, at the step where it took effect.
public struct EventRecord: Sendable, Equatable {
    public var step: Int
    public var kind: EventKind
    public var detail: String
    public var time: Double
}

/// Everything known about a run at one moment; what the dashboard and `compare` read.
public struct RunSnapshot: Sendable {
    public var config: ExperimentConfig
    public var directory: String?
    public var state: RunState = .starting
    public var message = ""
    public var step = 0
    public var totalSteps = 0
    public var stepsPerEpoch = 1
    public var steps: [StepRecord] = []
    public var evals: [EvalRecord] = []
    public var layers: [LayerRecord] = []
    public var events: [EventRecord] = []
    /// The newest weight and output distributions (histograms.jsonl), or nil when none were recorded.
    public var histograms: HistogramRecord?
    /// What could not be read of histograms.jsonl (naming the file and the first bad line), or nil.
    public var histogramProblem: String?
    /// The gradient rules in force.
    public var gradientMode: GradientMode
    public var eta: Double
    public var elapsed: Double = 0
    /// Lines of metrics.jsonl that could not be read, and values out of range read as missing.
    public var skippedLines = 0
    public var invalidValues = 0
    /// Why metrics.jsonl could not be read at all, or nil.
    public var fileProblem: String?
    /// The mean of the step records' images per second, worked out once for a run read from
    /// disk (nil: compute it when asked; a live run's changes every step).
    public var storedMeanImagesPerSecond: Double?

    public init(config: ExperimentConfig) {
        self.config = config
        gradientMode = config.gradientMode
        eta = config.eta
    }

    /// What could not be read of the metrics file, e.g. "2 unreadable lines, 1 value out of range skipped"; empty when all was read.
    public var readProblems: String {
        var parts: [String] = []
        if let fileProblem { return "unreadable: " + fileProblem }
        if skippedLines > 0 { parts.append("\(skippedLines) unreadable line\(skippedLines == 1 ? "" : "s")") }
        if invalidValues > 0 { parts.append("\(invalidValues) value\(invalidValues == 1 ? "" : "s") out of range") }
        return parts.isEmpty ? "" : parts.joined(separator: ", ") + " skipped"
    }

    public var epoch: Double { Double(step) / Double(max(stepsPerEpoch, 1)) }
    public var bestAccuracy: Double? { evals.map(\.testAccuracy).filter(\.isFinite).max() }
    public var finalAccuracy: Double? { evals.last(where: { $0.testAccuracy.isFinite })?.testAccuracy }
    public var finalLoss: Double? { steps.last(where: { $0.loss.isFinite })?.loss }

    /// Images per second: over the last few steps while training, over the whole run once
    /// it has ended, 0 while paused (nothing is being trained).
    public var imagesPerSecond: Double {
        guard state != .paused else { return 0 }
        if state.isTerminal, let stored = storedMeanImagesPerSecond { return stored }
        let recent = (state.isTerminal ? steps[...] : steps.suffix(20)).map(\.imagesPerSecond).filter { $0 > 0 && $0.isFinite }
        return recent.isEmpty ? 0 : recent.reduce(0, +) / Double(recent.count)
    }

    /// Estimated seconds to finish at the current rate.
    public var remainingSeconds: Double? {
        let ips = imagesPerSecond
        guard ips > 0, !state.isTerminal, totalSteps > step else { return nil }
        let s = Double(totalSteps - step) * Double(config.batchSize) / ips
        return s.isFinite ? s : nil
    }
}

extension RunSnapshot {
    /// One line of progress: epoch, step, loss, accuracy, speed, ETA and state.
    public var progressLine: String {
        let epochText = String(format: "epoch %.2f/%d", epoch, config.epochs)
        let loss = finalLoss.map { String(format: "loss %.4f", $0) } ?? "loss -"
        let acc = finalAccuracy.map { String(format: "acc %.2f%%", $0 * 100) } ?? "acc -"
        let eta = remainingSeconds.map { "ETA " + formatDuration($0) } ?? ""
        return "\(config.name)  \(epochText)  step \(step)/\(totalSteps)  \(loss)  \(acc)  \(Int(imagesPerSecond.rounded(.down))) img/s  \(eta)  [\(state.rawValue)]"
    }
}

/// "m:ss", or "h:mm:ss" from an hour on, for ETAs.
public func formatDuration(_ seconds: Double) -> String {
    // Anything from a hostile file: NaN, negative or beyond a century is shown as such.
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    guard seconds < 3_155_760_000 else { return ">100y" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

/// A minimal JSON writer for metrics lines and `--json` outputs: keys in the given
/// order, non-finite numbers as null (JSON has no NaN).
public enum JSON {
    public indirect enum Value {
        case number(Double), int(Int), string(String), bool(Bool), null
        case array([Value]), object([(String, Value)])
    }

    public static func encode(_ v: Value) -> String {
        switch v {
        case .number(let d): return d.isFinite ? (d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)") : "null"
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .string(let s): return quote(s)
        case .array(let a): return "[" + a.map(encode).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.map { quote($0.0) + ":" + encode($0.1) }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

extension StepRecord {
    var json: JSON.Value {
        .object([("kind", .string("step")), ("step", .int(step)), ("epoch", .number(epoch)), ("loss", .number(loss)),
                 ("lr", .number(learningRate)), ("imagesPerSecond", .number(imagesPerSecond)),
                 ("batchAccuracy", .number(batchAccuracy)), ("time", .number(time))])
    }
}

extension EvalRecord {
    var json: JSON.Value {
        .object([("kind", .string("eval")), ("step", .int(step)), ("epoch", .number(epoch)), ("testLoss", .number(testLoss)),
                 ("testAccuracy", .number(testAccuracy)), ("testAccuracyBatchStats", .number(testAccuracyBatchStatistics)),
                 ("trainAccuracy", .number(trainAccuracy)), ("time", .number(time)),
                 ("batchNormDrift", .array(drift.map { .object([("name", .string($0.name)), ("meanGap", .number($0.meanGap)),
                                                                 ("logVarianceRatio", .number($0.logVarianceRatio))]) }))])
    }
}

extension LayerRecord {
    var json: JSON.Value {
        .object([("kind", .string("layers")), ("step", .int(step)),
                 ("layers", .array(layers.map { l in
                     .object([("name", .string(l.name)), ("type", .string(l.type)), ("gradNorm", .number(l.gradNorm)),
                              ("weightNorm", .number(l.weightNorm)), ("alpha", .number(l.alpha)),
                              ("outputMean", .number(l.outputMean)), ("outputStd", .number(l.outputStd)),
                              ("gradientMode", .string(l.gradientRules?.label ?? ""))])
                 }))])
    }
}

extension Histogram {
    var json: JSON.Value {
        .object([("min", .number(minimum)), ("max", .number(maximum)), ("sum", .number(sum)), ("sumSquares", .number(sumOfSquares)),
                 ("counts", .array(counts.map { .int($0) })),
                 ("mean", .number(fit.mean)), ("std", .number(fit.standardDeviation)), ("median", .number(fit.median)), ("b", .number(fit.scale)),
                 ("gaussianLL", .number(fit.gaussianLogLikelihood)), ("laplaceLL", .number(fit.laplaceLogLikelihood))])
    }
}

extension HistogramRecord {
    var json: JSON.Value {
        .object([("kind", .string("histograms")), ("step", .int(step)),
                 ("layers", .array(layers.map { l in
                     .object([("name", .string(l.name)), ("type", .string(l.type)), ("weights", l.weights.json),
                              ("outputs", l.outputs?.json ?? .null)])
                 }))])
    }
}

extension EventRecord {
    var json: JSON.Value {
        .object([("kind", .string("event")), ("step", .int(step)), ("event", .string(kind.rawValue)), ("detail", .string(detail)),
                 ("time", .number(time))])
    }
}
