import AdderCore
import AdderNN
import Foundation

/// One line of metrics.jsonl, decoded and range-checked.
enum MetricsRecord {
    case step(StepRecord), eval(EvalRecord), layers(LayerRecord), event(EventRecord)
    /// A line of histograms.jsonl.
    case histograms(HistogramRecord)

    var step: Int {
        switch self {
        case .step(let r): return r.step
        case .eval(let r): return r.step
        case .layers(let r): return r.step
        case .event(let r): return r.step
        case .histograms(let r): return r.step
        }
    }
}

/// A metrics.jsonl (or a histograms.jsonl: the same reader follows both) read from its
/// start and then followed as it grows: each `update` reads only the bytes appended since the last one (up to a chunk, so a huge file
/// never blocks a caller for long), and starts over when the file was replaced.
///
/// Every number in the file is untrusted. A line that is not a JSON object with a known
/// kind and a valid step, epoch and time is skipped and counted; a value outside its
/// range (an accuracy above 1, a negative loss, ±1e308, a gradient norm beyond Float) is
/// read as missing (NaN) and counted, never used.
public struct MetricsFile {
    /// The largest step, epoch and elapsed time taken as real.
    static let maximumStep = 1 << 40
    static let maximumEpoch = 1e9
    static let maximumSeconds = 1e10
    /// A metrics file read in one go (truncation on resume, export) may be this large.
    public static let maximumBytes = 2 << 30

    public let path: String
    public private(set) var history = History()
    private var offset = 0
    private var inode: UInt64?
    /// Lines (newlines) consumed so far, to name a bad line by its number.
    private var lines = 0
    /// True when the last update left bytes unread (it read one chunk of a larger file).
    public private(set) var hasUnread = false
    /// Inside a line longer than `maximumLine`, which is skipped up to its newline.
    private var discarding = false
    /// The longest line read as a record.
    static let maximumLine = 1 << 20

    public struct History: Sendable {
        public var steps: [StepRecord] = []
        public var evals: [EvalRecord] = []
        public var layers: [LayerRecord] = []
        public var events: [EventRecord] = []
        /// The newest histogram record (only the newest is kept: each is a whole model's worth).
        public var histograms: HistogramRecord?
        /// Lines that could not be read as a record (torn, not JSON, bad kind or step).
        public var skippedLines = 0
        /// The number (from 1) of the first line skipped, or nil.
        public var firstSkippedLine: Int?
        /// Values outside their range, read as missing.
        public var invalidValues = 0
        /// Why the file could not be read at all (a FIFO, a directory, a link loop), or nil.
        public var fileProblem: String?
        public init() {}
    }

    public init(path: String) { self.path = path }

    /// Reads what was appended since the last call, at most `chunk` bytes; true when
    /// anything new was read. A missing file reads as empty.
    @discardableResult
    public mutating func update(chunk: Int = 64 << 20) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            let had = offset > 0
            if had { self = MetricsFile(path: path) }
            // Missing is empty; anything else there is named.
            if InputFile.entryExists(path) {
                do { _ = try InputFile.size(path) } catch { history.fileProblem = error.problem }
            }
            return had
        }
        var reset = false
        if inode != UInt64(st.st_ino) || Int(st.st_size) < offset {
            // Replaced (a resume rewrote it) or truncated: read again from the start.
            reset = inode != nil
            self = MetricsFile(path: path)
            inode = UInt64(st.st_ino)
        }
        let available = Int(st.st_size) - offset
        hasUnread = false
        guard available > 0 else { return reset }
        guard var data = try? InputFile.read(path, from: offset, atMost: min(available, chunk)) else { return false }
        if !data.contains(0x0A) && data.count < available && data.count <= MetricsFile.maximumLine {
            // A line longer than the chunk: read enough for the longest line accepted.
            guard let more = try? InputFile.read(path, from: offset, atMost: min(available, MetricsFile.maximumLine + 1)) else { return false }
            data = more
        }
        var consumed = 0
        if discarding {
            // The rest of an overlong line: dropped up to and including its newline.
            guard let nl = data.firstIndex(of: 0x0A) else {
                offset += data.count
                hasUnread = data.count < available
                return true
            }
            consumed = nl + 1 - data.startIndex
            discarding = false
            lines += 1
        }
        let rest = data[(data.startIndex + consumed)...]
        let first = lines
        let (used, newlines) = MetricsFile.forEachNumberedLine(rest) { line, index in add(line, number: first + index + 1) }
        consumed += used
        lines += newlines
        if used == 0 && rest.count > MetricsFile.maximumLine {
            // No newline in more than a line's worth: an overlong line, skipped to its end.
            history.skippedLines += 1
            if history.firstSkippedLine == nil { history.firstSkippedLine = lines + 1 }
            discarding = true
            consumed = data.count
        }
        offset += consumed
        hasUnread = consumed < available && consumed > 0
        return consumed > 0
    }

    /// Reads the whole file.
    public mutating func readToEnd() {
        while update() {}
    }

    private mutating func add(_ line: Data, number: Int) {
        guard let (record, invalid) = MetricsFile.decodeCounting(line) else {
            history.skippedLines += 1
            if history.firstSkippedLine == nil { history.firstSkippedLine = number }
            return
        }
        history.invalidValues += invalid
        switch record {
        case .step(let r): history.steps.append(r)
        case .eval(let r): history.evals.append(r)
        case .layers(let r): history.layers.append(r)
        case .event(let r): history.events.append(r)
        case .histograms(let r): history.histograms = r
        }
    }

    /// Calls `body` with each complete (newline-terminated) line of `data`, without its
    /// newline, skipping empty ones; returns the number of bytes those lines span. Lines
    /// are visited one at a time, so memory does not grow with their number.
    @discardableResult
    static func forEachLine(_ data: Data, _ body: (Data) -> Void) -> Int {
        forEachNumberedLine(data) { line, _ in body(line) }.bytes
    }

    /// `forEachLine`, with each line's index among the lines of `data` (from 0, empty lines
    /// counted); returns the bytes and the newlines consumed.
    static func forEachNumberedLine(_ data: Data, _ body: (Data, Int) -> Void) -> (bytes: Int, lines: Int) {
        var consumed = 0, index = 0
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var start = 0
            while start < raw.count, let hit = memchr(base + start, 0x0A, raw.count - start) {
                let nl = base.distance(to: UnsafeRawPointer(hit))
                if nl > start { body(data[(data.startIndex + start)..<(data.startIndex + nl)], index) }
                start = nl + 1
                consumed = start
                index += 1
            }
        }
        return (consumed, index)
    }

    static func decode(_ line: Data) -> MetricsRecord? { decodeCounting(line)?.record }

    /// The record on one line and how many of its values were out of range, or nil.
    static func decodeCounting(_ line: Data) -> (record: MetricsRecord, invalid: Int)? {
        // Every record is an object: anything else is refused before parsing.
        guard line.count <= maximumLine, line.first(where: { $0 != 0x20 && $0 != 0x09 }) == UInt8(ascii: "{"),
              let o = JSONLine.parse(line), let kind = o["kind"]?.string,
              let stepNumber = o["step"]?.double, stepNumber >= 0, stepNumber <= Double(maximumStep),
              stepNumber == stepNumber.rounded() else { return nil }
        let step = Int(stepNumber)
        var invalid = 0
        /// A number in `range`; NaN when missing or null (non-finite values are written as
        /// null) and when out of range or not a number (counted).
        func number(_ d: JSONLine.Value, _ k: String, _ range: ClosedRange<Double>) -> Double {
            guard let v = d[k], !v.isNull else { return .nan }
            guard let x = v.double, range.contains(x) else { invalid += 1; return .nan }
            return x
        }
        let floatMax = Double(Float.greatestFiniteMagnitude)
        let nonNegative = 0...floatMax, anyFloat = -floatMax...floatMax, fraction = 0.0...1.0
        // Structural values: without them the record cannot be placed.
        let epoch = number(o, "epoch", 0...maximumEpoch), time = number(o, "time", 0...maximumSeconds)
        func text(_ d: JSONLine.Value, _ k: String) -> String { String((d[k]?.string ?? "").prefix(1000)) }
        switch kind {
        case "step":
            guard epoch.isFinite, time.isFinite else { return nil }
            return (.step(StepRecord(step: step, epoch: epoch, loss: number(o, "loss", nonNegative), learningRate: number(o, "lr", nonNegative),
                                     imagesPerSecond: number(o, "imagesPerSecond", 0...1e9), batchAccuracy: number(o, "batchAccuracy", fraction),
                                     time: time)), invalid)
        case "eval":
            guard epoch.isFinite, time.isFinite else { return nil }
            let drift = (o["batchNormDrift"]?.array ?? []).prefix(10_000).map {
                DriftRecord(name: text($0, "name"), meanGap: number($0, "meanGap", anyFloat),
                            logVarianceRatio: number($0, "logVarianceRatio", anyFloat))
            }
            return (.eval(EvalRecord(step: step, epoch: epoch, testLoss: number(o, "testLoss", nonNegative),
                                     testAccuracy: number(o, "testAccuracy", fraction),
                                     testAccuracyBatchStatistics: number(o, "testAccuracyBatchStats", fraction),
                                     trainAccuracy: number(o, "trainAccuracy", fraction), time: time, drift: Array(drift))), invalid)
        case "layers":
            guard let list = o["layers"]?.array, list.count <= 10_000 else { return nil }
            let layers = list.map { l in
                LayerStatistics(name: text(l, "name"), type: text(l, "type"), gradNorm: number(l, "gradNorm", nonNegative),
                                weightNorm: number(l, "weightNorm", nonNegative), alpha: number(l, "alpha", nonNegative),
                                outputMean: number(l, "outputMean", anyFloat), outputStd: number(l, "outputStd", nonNegative),
                                gradientRules: GradientRules(label: text(l, "gradientMode")))
            }
            return (.layers(LayerRecord(step: step, layers: layers)), invalid)
        case "event":
            guard time.isFinite, let name = o["event"]?.string, let kind = EventKind(rawValue: name) else { return nil }
            return (.event(EventRecord(step: step, kind: kind, detail: text(o, "detail"), time: time)), invalid)
        case "histograms":
            // A histogram is read whole or not at all: bins, counts and range are checked, and a
            // layer with a bad one makes the line unreadable. Fit values out of range read as missing.
            guard let list = o["layers"]?.array, list.count <= 10_000 else { return nil }
            func histogram(_ d: JSONLine.Value) -> Histogram? {
                guard let counts = d["counts"]?.array, (1...Histogram.maximumBins).contains(counts.count),
                      let lo = d["min"]?.double, let hi = d["max"]?.double, lo.isFinite, hi.isFinite, lo < hi,
                      abs(lo) <= floatMax, abs(hi) <= floatMax,
                      let sum = d["sum"]?.double, let squares = d["sumSquares"]?.double, sum.isFinite, squares.isFinite, squares >= 0 else { return nil }
                var bins: [Int] = []
                var total = 0
                for c in counts {
                    guard let v = c.double, v >= 0, v <= Double(maximumStep), v == v.rounded() else { return nil }
                    bins.append(Int(v))
                    total += Int(v)
                }
                guard total > 0 else { return nil }
                let fit = DistributionFit(mean: number(d, "mean", anyFloat), standardDeviation: number(d, "std", nonNegative),
                                          median: number(d, "median", anyFloat), scale: number(d, "b", nonNegative),
                                          gaussianLogLikelihood: number(d, "gaussianLL", -1e6...1e6), laplaceLogLikelihood: number(d, "laplaceLL", -1e6...1e6))
                return Histogram(minimum: lo, maximum: hi, counts: bins, sum: sum, sumOfSquares: squares, fit: fit)
            }
            var layers: [LayerHistograms] = []
            for l in list {
                guard let weights = l["weights"].flatMap(histogram) else { return nil }
                var outputs: Histogram?
                if let o = l["outputs"], !o.isNull {
                    guard let h = histogram(o) else { return nil }
                    outputs = h
                }
                layers.append(LayerHistograms(name: text(l, "name"), type: text(l, "type"), weights: weights, outputs: outputs))
            }
            return (.histograms(HistogramRecord(step: step, layers: layers)), invalid)
        default:
            return nil
        }
    }
}

/// Reads a run directory back into a snapshot, so that runs trained headless or on
/// another machine can be compared and watched from their files alone.
public enum RunReader {
    /// Reads `directory` (config.yaml, metrics.jsonl and histograms.jsonl).
    public static func read(directory: String) throws(RunError) -> RunSnapshot {
        let config = try RunDirectory.readConfig(directory)
        let files = RunFiles(directory)
        return snapshot(config: config, directory: directory, history: read(metricsAt: files.metrics), histograms: read(metricsAt: files.histograms))
    }

    /// The snapshot of a run directory from its configuration and what its metrics file
    /// (and its histograms file) hold.
    public static func snapshot(config: ExperimentConfig, directory: String, history h: MetricsFile.History,
                                histograms: MetricsFile.History = MetricsFile.History()) -> RunSnapshot {
        var snap = RunSnapshot(config: config)
        snap.directory = directory
        snap.histograms = histograms.histograms
        snap.histogramProblem = histogramProblem(histograms)
        snap.steps = h.steps; snap.evals = h.evals; snap.layers = h.layers; snap.events = h.events
        snap.skippedLines = h.skippedLines; snap.invalidValues = h.invalidValues
        snap.fileProblem = h.fileProblem
        snap.step = h.steps.last?.step ?? 0
        snap.elapsed = max(h.steps.last?.time ?? 0, h.events.last?.time ?? 0)
        if let first = h.steps.first, first.epoch > 0 {
            let perEpoch = (Double(first.step) / first.epoch).rounded()
            if perEpoch.isFinite, perEpoch >= 1, perEpoch <= Double(MetricsFile.maximumStep) { snap.stepsPerEpoch = Int(perEpoch) }
        }
        snap.totalSteps = snap.stepsPerEpoch.multipliedReportingOverflow(by: config.epochs).overflow ? Int.max : snap.stepsPerEpoch * config.epochs
        if let last = h.events.last(where: { $0.kind == .state }) {
            let word = last.detail.split(separator: ":").first.map(String.init) ?? ""
            let state = RunState(rawValue: word) ?? .interrupted
            snap.state = (state == .running || state == .paused || state == .starting || state == .queued) ? .interrupted : state
            if let colon = last.detail.firstIndex(of: ":") { snap.message = last.detail[last.detail.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        } else {
            snap.state = .interrupted
        }
        // Not interrupted while another process holds the run's lock: it is training there.
        if snap.state == .interrupted, let holder = RunLock.holder(of: directory) {
            let paused = h.events.last { $0.kind == .pause || $0.kind == .resume }?.kind == .pause
            snap.state = paused ? .paused : .running
            snap.message = "training in another process (\(holder))"
        }
        if let mode = h.events.last(where: { $0.kind == .gradientMode }), let rules = GradientRules(label: String(mode.detail.split(separator: " ").first ?? "")) {
            // A change of one layer leaves the others as they were: the layer records say which.
            let perLayer = h.layers.last.map { r in r.layers.compactMap(\.gradientRules) } ?? []
            snap.gradientMode = mode.detail.contains(" (") && !perLayer.isEmpty ? GradientMode(layers: perLayer) : .rules(rules)
        }
        if let e = h.events.last(where: { $0.kind == .eta }), let v = Double(e.detail), v.isFinite, v > 0 { snap.eta = v }
        snap.storedMeanImagesPerSecond = RunGrouping.meanImagesPerSecond(snap)
        return snap
    }

    /// Every run directory directly under `runsDirectory` (those with a config.yaml), newest name last.
    public static func runDirectories(in runsDirectory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runsDirectory)) ?? []
        return names.sorted().map { runsDirectory + "/" + $0 }.filter { RunFiles($0).exists }
    }

    /// What could not be read of a histograms.jsonl, naming it and its first bad line; nil when all was read.
    static func histogramProblem(_ h: MetricsFile.History) -> String? {
        if let p = h.fileProblem { return "\(RunFiles.histogramsName) unreadable: \(p)" }
        var parts: [String] = []
        if let line = h.firstSkippedLine {
            parts.append("line \(line) unreadable" + (h.skippedLines > 1 ? " (\(h.skippedLines) lines skipped)" : ", skipped"))
        }
        if h.invalidValues > 0 { parts.append("\(h.invalidValues) value\(h.invalidValues == 1 ? "" : "s") out of range") }
        return parts.isEmpty ? nil : RunFiles.histogramsName + ": " + parts.joined(separator: "; ")
    }

    static func read(metricsAt path: String) -> MetricsFile.History {
        var m = MetricsFile(path: path)
        m.readToEnd()
        return m.history
    }
}
