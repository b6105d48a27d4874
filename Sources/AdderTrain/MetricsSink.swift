import Foundation

/// Where a run's records go as they happen: the in-memory store (what the dashboard
/// reads), and with a run directory metrics.jsonl, the TensorBoard file and run.log.
/// The TensorBoard tags and the log's wording live here, once.
final class MetricsSink {
    let store: MetricsStore
    let directory: RunDirectory?

    init(store: MetricsStore, directory: RunDirectory?) { self.store = store; self.directory = directory }

    func event(_ e: EventRecord) throws(RunError) {
        store.update { $0.events.append(e) }
        try directory?.append(e.json)
        try directory?.log(String(format: "[%8.1fs] step %d: %@ %@", e.time, e.step, e.kind.rawValue, e.detail))
    }

    /// A state change, as an event with the message after the state's name.
    func state(_ state: RunState, _ message: String, step: Int, time: Double) throws(RunError) {
        store.update { $0.state = state; $0.message = message; $0.elapsed = time }
        try event(EventRecord(step: step, kind: .state, detail: state.rawValue + (message.isEmpty ? "" : ": " + message), time: time))
    }

    /// The run failed: recorded wherever it can still be written (the disk may be what
    /// failed); the store always has it.
    func failure(_ message: String, step: Int, time: Double) {
        let e = EventRecord(step: step, kind: .state, detail: RunState.failed.rawValue + ": " + message, time: time)
        store.update { $0.state = .failed; $0.message = message; $0.elapsed = time; $0.events.append(e) }
        try? directory?.append(e.json)
        try? directory?.log(String(format: "[%8.1fs] step %d: %@ %@", e.time, e.step, e.kind.rawValue, e.detail))
    }

    /// A training step; run.log gets every `logEvery`-th and the last.
    func step(_ r: StepRecord, totalSteps: Int, logEvery: Int = 50) throws(RunError) {
        store.update { $0.steps.append(r); $0.step = r.step; $0.elapsed = r.time }
        try directory?.append(r.json)
        try directory?.tensorBoard.add(step: r.step, scalars: [("train/loss", r.loss), ("train/learning_rate", r.learningRate),
                                                            ("train/images_per_second", r.imagesPerSecond), ("train/batch_accuracy", r.batchAccuracy)])
        if r.step % logEvery == 0 || r.step == totalSteps {
            try directory?.log(String(format: "[%8.1fs] step %d/%d epoch %.2f loss %.4f lr %.4g %.0f img/s", r.time, r.step, totalSteps, r.epoch,
                                      r.loss, r.learningRate, r.imagesPerSecond))
        }
    }

    func layers(_ rec: LayerRecord) throws(RunError) {
        store.update { $0.layers.append(rec) }
        try directory?.append(rec.json)
        var scalars: [(String, Double)] = []
        for l in rec.layers {
            scalars += [("layers/\(l.name)/grad_norm", l.gradNorm), ("layers/\(l.name)/weight_norm", l.weightNorm),
                        ("layers/\(l.name)/output_std", l.outputStd)]
            if l.gradientRules != nil { scalars.append(("layers/\(l.name)/alpha", l.alpha)) }
        }
        try directory?.tensorBoard.add(step: rec.step, scalars: scalars)
    }

    /// Histograms: the newest in the store, every one in histograms.jsonl, and in TensorBoard
    /// as `weights/<layer>` and `outputs/<layer>` histograms with the fits' log-likelihoods
    /// per value as scalars.
    func histograms(_ rec: HistogramRecord) throws(RunError) {
        store.update { $0.histograms = rec }
        try directory?.append(rec)
        var histograms: [(String, Histogram)] = []
        var scalars: [(String, Double)] = []
        for l in rec.layers {
            histograms.append(("weights/\(l.name)", l.weights))
            if let o = l.outputs { histograms.append(("outputs/\(l.name)", o)) }
            scalars += [("weights/\(l.name)/gaussian_log_likelihood", l.weights.fit.gaussianLogLikelihood),
                        ("weights/\(l.name)/laplace_log_likelihood", l.weights.fit.laplaceLogLikelihood)]
        }
        try directory?.tensorBoard.add(step: rec.step, histograms: histograms)
        try directory?.tensorBoard.add(step: rec.step, scalars: scalars)
    }

    func evaluation(_ rec: EvalRecord) throws(RunError) {
        store.update { $0.evals.append(rec) }
        try directory?.append(rec.json)
        try directory?.tensorBoard.add(step: rec.step, scalars: [("test/loss", rec.testLoss), ("test/accuracy", rec.testAccuracy),
                                                              ("test/accuracy_batch_stats", rec.testAccuracyBatchStatistics),
                                                              ("train/accuracy", rec.trainAccuracy)])
        try directory?.log(String(format: "[%8.1fs] eval at step %d: test loss %.4f, test accuracy %.2f%% (batch statistics %.2f%%), train accuracy %.2f%%",
                                  rec.time, rec.step, rec.testLoss, rec.testAccuracy * 100, rec.testAccuracyBatchStatistics * 100, rec.trainAccuracy * 100))
    }

    /// The feature layer's outputs at an evaluation: to features.jsonl only (the dashboard
    /// reads them from there; the store stays small).
    func features(_ rec: FeatureRecord) throws(RunError) { try directory?.appendFeatures(rec) }

    func log(_ line: String) throws(RunError) { try directory?.log(line) }
}
