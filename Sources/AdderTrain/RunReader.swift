import AdderNN
import Foundation

/// Reads a run directory back into a snapshot, so that runs trained headless or on
/// another machine can be compared and watched from their files alone.
public enum RunReader {
    struct History {
        var steps: [StepRecord] = []
        var evals: [EvalRecord] = []
        var layers: [LayerRecord] = []
        var events: [EventRecord] = []
        var skippedLines = 0
    }

    /// Reads `directory` (config.yaml and metrics.jsonl).
    public static func read(directory: String) throws(RunError) -> RunSnapshot {
        let config = try RunDirectory.readConfig(directory)
        var snap = RunSnapshot(config: config)
        snap.directory = directory
        let h = read(metricsAt: directory + "/metrics.jsonl")
        snap.steps = h.steps; snap.evals = h.evals; snap.layers = h.layers; snap.events = h.events
        snap.step = h.steps.last?.step ?? 0
        snap.elapsed = max(h.steps.last?.time ?? 0, h.events.last?.time ?? 0)
        if let first = h.steps.first, first.epoch > 0 {
            snap.stepsPerEpoch = max(1, Int((Double(first.step) / first.epoch).rounded()))
        }
        snap.totalSteps = snap.stepsPerEpoch * config.epochs
        if let last = h.events.last(where: { $0.kind == "state" }) {
            let word = last.detail.split(separator: ":").first.map(String.init) ?? ""
            let state = RunState(rawValue: word) ?? .interrupted
            snap.state = (state == .running || state == .paused || state == .pending) ? .interrupted : state
            if let colon = last.detail.firstIndex(of: ":") { snap.message = last.detail[last.detail.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        } else {
            snap.state = .interrupted
        }
        if let mode = h.events.last(where: { $0.kind == "gradientMode" }) {
            snap.gradientMode = String(mode.detail.split(separator: " ").first ?? "")
        }
        if let e = h.events.last(where: { $0.kind == "eta" }), let v = Double(e.detail) { snap.eta = v }
        return snap
    }

    /// Every run directory directly under `runsDirectory` (those with a config.yaml), newest name last.
    public static func runDirectories(in runsDirectory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runsDirectory)) ?? []
        return names.sorted().map { runsDirectory + "/" + $0 }.filter { FileManager.default.fileExists(atPath: $0 + "/config.yaml") }
    }

    static func read(metricsAt path: String) -> History {
        var h = History()
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else { return h }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let kind = o["kind"] as? String, let step = o["step"] as? Int else { h.skippedLines += 1; continue }
            func d(_ k: String) -> Double { (o[k] as? NSNumber)?.doubleValue ?? .nan }
            switch kind {
            case "step":
                h.steps.append(StepRecord(step: step, epoch: d("epoch"), loss: d("loss"), learningRate: d("lr"),
                                          imagesPerSecond: d("imagesPerSecond"), batchAccuracy: d("batchAccuracy"), time: d("time")))
            case "eval":
                let drift = (o["batchNormDrift"] as? [[String: Any]] ?? []).map {
                    DriftRecord(name: $0["name"] as? String ?? "", meanGap: ($0["meanGap"] as? NSNumber)?.doubleValue ?? .nan,
                                logVarianceRatio: ($0["logVarianceRatio"] as? NSNumber)?.doubleValue ?? .nan)
                }
                h.evals.append(EvalRecord(step: step, epoch: d("epoch"), testLoss: d("testLoss"), testAccuracy: d("testAccuracy"),
                                          testAccuracyBatchStatistics: d("testAccuracyBatchStats"), trainAccuracy: d("trainAccuracy"),
                                          time: d("time"), drift: drift))
            case "layers":
                let layers = (o["layers"] as? [[String: Any]] ?? []).map { l in
                    func v(_ k: String) -> Double { (l[k] as? NSNumber)?.doubleValue ?? .nan }
                    return LayerStatistics(name: l["name"] as? String ?? "", type: l["type"] as? String ?? "", gradNorm: v("gradNorm"),
                                           weightNorm: v("weightNorm"), alpha: v("alpha"), outputMean: v("outputMean"), outputStd: v("outputStd"),
                                           gradientMode: l["gradientMode"] as? String ?? "")
                }
                h.layers.append(LayerRecord(step: step, layers: layers))
            case "event":
                h.events.append(EventRecord(step: step, kind: o["event"] as? String ?? "", detail: o["detail"] as? String ?? "", time: d("time")))
            default:
                h.skippedLines += 1
            }
        }
        return h
    }
}
