import AdderCore
import AdderData
import AdderNN
import Dispatch
import Foundation
import Synchronization

/// One training run on its own serial queue, with live controls.
///
/// Controls (pause, resume, stop, gradient mode, η) may be called from any thread;
/// they are queued and applied between steps, and each is recorded as an event at the
/// step where it took effect. Metrics go to `store` (and, with a directory, to
/// metrics.jsonl, TensorBoard and run.log) as they happen.
public final class TrainingRun: Sendable {
    public let config: ExperimentConfig
    public let store: MetricsStore
    /// The run directory, or nil for an in-memory run.
    public let directory: String?

    enum Command: Sendable {
        case pause, resume, stop
        case gradient(AdderKernels.FilterRule, AdderKernels.InputRule, layer: String?)
        case toggleGradient(layer: String?)
        case eta(Double)
    }

    private let commands = Mutex<[Command]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchGroup()
    private let queue: DispatchQueue
    /// True when this run continues a run directory from its checkpoint.
    let resumeRequested: Bool

    /// A new run writing to a fresh directory under `runsDirectory` (nil: in memory only).
    public init(config: ExperimentConfig, runsDirectory: String?) throws(RunError) {
        self.config = config
        if let runsDirectory {
            directory = try RunDirectory.create(in: runsDirectory, name: config.name, config: config)
        } else {
            directory = nil
        }
        resumeRequested = false
        var snapshot = RunSnapshot(config: config)
        snapshot.directory = directory
        store = MetricsStore(snapshot)
        queue = DispatchQueue(label: "adderlab.run.\(config.name)", qos: .userInitiated)
    }

    /// Continues the run in `directory` from its last complete checkpoint.
    public init(resuming directory: String) throws(RunError) {
        config = try RunDirectory.readConfig(directory)
        self.directory = directory
        resumeRequested = true
        var snapshot = RunSnapshot(config: config)
        snapshot.directory = directory
        store = MetricsStore(snapshot)
        queue = DispatchQueue(label: "adderlab.run.\(config.name)", qos: .userInitiated)
    }

    /// Starts training on the run's queue and returns at once.
    public func start() {
        done.enter()
        queue.async { [self] in
            defer { done.leave() }
            let trainer = Trainer(run: self)
            trainer.train()
        }
    }

    /// Blocks until the run has ended, and returns its final snapshot.
    @discardableResult
    public func wait() -> RunSnapshot {
        done.wait()
        return store.snapshot()
    }

    /// Waits up to `seconds`; true when the run has ended.
    public func wait(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }

    public func snapshot() -> RunSnapshot { store.snapshot() }

    public func pause() { send(.pause) }
    public func resumeTraining() { send(.resume) }
    /// Finishes the current step, writes a checkpoint and ends the run as `stopped`.
    public func stop() { send(.stop) }
    /// Sets the gradient rules of every adder layer, or of the layer named `layer`.
    public func setGradientRules(filter: AdderKernels.FilterRule, input: AdderKernels.InputRule, layer: String? = nil) {
        send(.gradient(filter, input, layer: layer))
    }
    /// Flips between (fullPrecision, hardTanh) and (sign, sign).
    public func toggleGradientMode(layer: String? = nil) { send(.toggleGradient(layer: layer)) }
    /// Changes η of the adaptive learning rate.
    public func setEta(_ eta: Double) { send(.eta(eta)) }

    private func send(_ c: Command) {
        commands.withLock { $0.append(c) }
        wake.signal()
    }

    func takeCommands() -> [Command] { commands.withLock { c in defer { c = [] }; return c } }

    /// Waits for a command (or the timeout) while paused.
    func sleepUntilCommand() { _ = wake.wait(timeout: .now() + 0.1) }
}

/// The state of a run while it trains; lives on the run's queue only.
final class Trainer {
    let run: TrainingRun
    let config: ExperimentConfig
    var dir: RunDirectory?
    var model: Model!
    var optimizer: SGD!
    var plan: BatchPlan!
    var testSet: ImageSet!
    var normalization: Normalization!
    var step = 0
    var totalSteps = 0
    var eta: Double
    var trainCorrect = 0, trainSeen = 0
    var timeOffset = 0.0
    let started = Date()
    var paused = false

    init(run: TrainingRun) {
        self.run = run
        config = run.config
        eta = config.eta
    }

    var elapsed: Double { timeOffset + Date().timeIntervalSince(started) }

    func train() {
        do {
            try setUp()
            try trainLoop()
        } catch let e as RunError {
            fail(e.message)
        } catch let e as DataError {
            fail(e.description)
        } catch {
            fail("\(error)")
        }
    }

    func fail(_ message: String) {
        setState(.failed, message)
    }

    func setState(_ state: RunState, _ message: String = "") {
        run.store.update { $0.state = state; $0.message = message; $0.elapsed = self.elapsed }
        record(EventRecord(step: step, kind: "state", detail: state.rawValue + (message.isEmpty ? "" : ": " + message), time: elapsed))
    }

    func record(_ e: EventRecord) {
        run.store.update { $0.events.append(e) }
        dir?.append(e.json)
        dir?.log(String(format: "[%8.1fs] step %d: %@ %@", e.time, e.step, e.kind, e.detail))
    }

    // MARK: set-up

    func setUp() throws {
        let data = try DatasetCache.load(config)
        var train = data.train, test = data.test
        if let f = config.validationFraction {
            (train, test) = try train.split(validationFraction: f, seed: 0)
        }
        if let n = config.trainSamples, n < train.count {
            train = train.subset(Array(Shuffle.permutation(count: train.count, seed: 0, epoch: 0).prefix(n)).sorted())
        }
        if let n = config.testSamples, n < test.count {
            test = test.subset(Array(Shuffle.permutation(count: test.count, seed: 0, epoch: 1).prefix(n)).sorted())
        }
        guard train.shape == config.model.inputShape else {
            throw RunError("\(config.dataset.rawValue) images are \(train.shape) but \(config.model.rawValue) takes \(config.model.inputShape)")
        }
        normalization = data.normalization
        testSet = test
        do {
            plan = try BatchPlan(set: train, batchSize: config.batchSize, shuffle: true, augment: config.augment ?? data.augment,
                                 normalization: data.normalization, partial: .drop, seed: UInt64(config.seed))
        } catch {
            throw RunError("\(config.name): \(error)")
        }
        totalSteps = plan.batchesPerEpoch * config.epochs
        model = Model(config.model, placement: config.placement, classes: train.classes, seed: UInt64(config.seed))
        model.setGradientRules(filter: config.filterGradient, input: config.inputGradient)
        optimizer = SGD(parameters: model.namedParameters, configuration: config.sgdConfiguration)
        if let path = run.directory {
            if run.resumeRequested {
                try restoreCheckpoint(path)
            }
            dir = try RunDirectory(path: path)
        }
        let stepsPerEpoch = plan.batchesPerEpoch, total = totalSteps, current = step
        run.store.update {
            $0.totalSteps = total; $0.stepsPerEpoch = stepsPerEpoch; $0.step = current
            $0.gradientMode = self.modeLabel(); $0.eta = self.eta
        }
        if run.resumeRequested {
            record(EventRecord(step: step, kind: "resumedFromCheckpoint", detail: "step \(step) of \(totalSteps)", time: elapsed))
        } else {
            dir?.log("\(config.name): \(config.model.rawValue) (\(config.adders)) on \(config.dataset.rawValue), \(train.count) training and \(test.count) test images, \(totalSteps) steps of \(config.batchSize)")
        }
        setState(.running)
    }

    func restoreCheckpoint(_ path: String) throws {
        let ckpt = path + "/checkpoints/latest.safetensors"
        guard FileManager.default.fileExists(atPath: ckpt) else {
            // Killed before the first checkpoint: start over in the same directory.
            try RunDirectory.truncateMetrics(in: path, after: -1)
            return
        }
        let meta: [String: String]
        do { meta = try Checkpoint.load(from: URL(fileURLWithPath: ckpt), into: model, optimizer: optimizer) } catch {
            throw RunError("cannot resume from \(error)")
        }
        guard let s = Int(meta["step"] ?? ""), s >= 0, s <= totalSteps else {
            throw RunError("\(ckpt): metadata 'step' is '\(meta["step"] ?? "")', expected a step between 0 and \(totalSteps)")
        }
        step = s
        trainCorrect = Int(meta["trainCorrect"] ?? "") ?? 0
        trainSeen = Int(meta["trainSeen"] ?? "") ?? 0
        timeOffset = Double(meta["elapsed"] ?? "") ?? 0
        if let e = Double(meta["eta"] ?? "") { eta = e; optimizer.configuration.eta = Float(e) }
        for (name, layer) in model.adderLayers {
            if let mode = meta["gradient." + name], let slash = mode.firstIndex(of: "/"),
               let f = AdderKernels.FilterRule(rawValue: String(mode[..<slash])),
               let i = AdderKernels.InputRule(rawValue: String(mode[mode.index(after: slash)...])) {
                layer.filterRule = f; layer.inputRule = i
            }
        }
        try RunDirectory.truncateMetrics(in: path, after: step)
        // Rebuild the in-memory history from what the file kept.
        let history = RunReader.read(metricsAt: path + "/metrics.jsonl")
        run.store.update { $0.steps = history.steps; $0.evals = history.evals; $0.layers = history.layers; $0.events = history.events }
    }

    // MARK: the loop

    func trainLoop() throws {
        let schedule = config.learningRateSchedule(stepsPerEpoch: plan.batchesPerEpoch)
        let perEpoch = plan.batchesPerEpoch
        let prefetcher = BatchPrefetcher(plan: plan, startEpoch: step / perEpoch, startIndex: step % perEpoch, endEpoch: config.epochs)
        defer { prefetcher.cancel() }
        var lastEval = -1, lastCheckpoint = -1
        while step < totalSteps {
            if applyCommands() { finishStopped(); return }
            guard let batch = prefetcher.next() else { break }
            let t0 = Date()
            let lr = schedule.rate(at: step)
            // Output statistics cost a pass per layer: only on steps that publish them.
            model.recordsOutputStatistics = (step + 1) % config.layerStatsEvery == 0 || step + 1 == totalSteps
            let result = model.trainStep(images: batch.images, labels: batch.labels, optimizer: optimizer, learningRate: lr)
            step += 1
            let dt = Date().timeIntervalSince(t0)
            trainCorrect += result.correctTop1; trainSeen += batch.labels.count
            if let problem = divergence(loss: result.loss) {
                setState(.diverged, problem)
                return
            }
            let rec = StepRecord(step: step, epoch: Double(step) / Double(perEpoch), loss: Double(result.loss), learningRate: Double(lr),
                                 imagesPerSecond: Double(batch.labels.count) / max(dt, 1e-9),
                                 batchAccuracy: Double(result.correctTop1) / Double(batch.labels.count), time: elapsed)
            publish(rec)
            if step % config.layerStatsEvery == 0 || step == totalSteps { publishLayers() }
            let epochEnd = step % perEpoch == 0
            if (config.evalEvery > 0 && step % config.evalEvery == 0) || (config.evalEvery == 0 && epochEnd) || step == totalSteps {
                evaluate(); lastEval = step
            }
            if (config.checkpointEvery > 0 && step % config.checkpointEvery == 0) || (config.checkpointEvery == 0 && epochEnd) {
                try checkpoint(epoch: epochEnd ? step / perEpoch : nil); lastCheckpoint = step
            }
        }
        if lastEval != step { evaluate() }
        if lastCheckpoint != step { try checkpoint(epoch: nil) }
        setState(.finished)
    }

    /// Applies queued controls; true when the run must stop now.
    func applyCommands() -> Bool {
        while true {
            for c in run.takeCommands() {
                switch c {
                case .pause where !paused:
                    paused = true
                    run.store.update { $0.state = .paused }
                    record(EventRecord(step: step, kind: "pause", detail: "", time: elapsed))
                case .resume where paused:
                    paused = false
                    run.store.update { $0.state = .running }
                    record(EventRecord(step: step, kind: "resume", detail: "", time: elapsed))
                case .stop:
                    return true
                case let .gradient(f, i, layer):
                    setRules(f, i, layer: layer)
                case let .toggleGradient(layer):
                    let target = model.adderLayers.first { layer == nil || $0.0 == layer }?.1
                    let toSign = target?.filterRule == .fullPrecision
                    setRules(toSign ? .sign : .fullPrecision, toSign ? .sign : .hardTanh, layer: layer)
                case let .eta(e) where e > 0 && e.isFinite:
                    eta = e
                    optimizer.configuration.eta = Float(e)
                    run.store.update { $0.eta = e }
                    record(EventRecord(step: step, kind: "eta", detail: String(format: "%g", e), time: elapsed))
                default:
                    break
                }
            }
            if !paused { return false }
            run.sleepUntilCommand()
        }
    }

    func setRules(_ f: AdderKernels.FilterRule, _ i: AdderKernels.InputRule, layer: String?) {
        guard !model.adderLayers.isEmpty else { return }
        model.setGradientRules(filter: f, input: i, layer: layer)
        let label = modeLabel()
        run.store.update { $0.gradientMode = label }
        record(EventRecord(step: step, kind: "gradientMode", detail: "\(f.rawValue)/\(i.rawValue)" + (layer.map { " (\($0))" } ?? ""), time: elapsed))
    }

    func modeLabel() -> String {
        let modes = Set(model.adderLayers.map { "\($0.1.filterRule.rawValue)/\($0.1.inputRule.rawValue)" })
        if modes.isEmpty { return "-" }
        return modes.count == 1 ? modes.first! : "mixed"
    }

    func finishStopped() {
        do { try checkpoint(epoch: nil) } catch { fail("stopped, but the checkpoint failed: \(error)"); return }
        setState(.stopped)
    }

    /// A message naming where NaN or ∞ appeared, or nil.
    func divergence(loss: Float) -> String? {
        if !loss.isFinite { return "loss is \(loss) at step \(step)" }
        for (name, p) in optimizer.parameters where !p.gradNorm.isFinite {
            return "non-finite gradient in \(name) at step \(step)"
        }
        return nil
    }

    func publish(_ r: StepRecord) {
        let s = step
        run.store.update { $0.steps.append(r); $0.step = s; $0.elapsed = r.time }
        dir?.append(r.json)
        dir?.tensorBoard.add(step: r.step, scalars: [("train/loss", r.loss), ("train/learning_rate", r.learningRate),
                                                      ("train/images_per_second", r.imagesPerSecond), ("train/batch_accuracy", r.batchAccuracy)])
        if step % 50 == 0 || step == totalSteps {
            dir?.log(String(format: "[%8.1fs] step %d/%d epoch %.2f loss %.4f lr %.4g %.0f img/s", r.time, step, totalSteps, r.epoch, r.loss, r.learningRate, r.imagesPerSecond))
        }
    }

    func publishLayers() {
        let rec = LayerRecord(step: step, layers: model.layerStatistics())
        run.store.update { $0.layers.append(rec) }
        dir?.append(rec.json)
        var scalars: [(String, Double)] = []
        for l in rec.layers {
            scalars += [("layers/\(l.name)/grad_norm", l.gradNorm), ("layers/\(l.name)/weight_norm", l.weightNorm),
                        ("layers/\(l.name)/output_std", l.outputStd)]
            if l.type == "Adder2d" { scalars.append(("layers/\(l.name)/alpha", l.alpha)) }
        }
        dir?.tensorBoard.add(step: step, scalars: scalars)
    }

    /// Test loss and accuracy with running statistics, accuracy with batch statistics,
    /// training accuracy since the last evaluation, and batch-norm drift.
    func evaluate() {
        let drift = model.batchNorms.map { name, bn in
            let d = bn.drift()
            return DriftRecord(name: name, meanGap: d.meanGap, logVarianceRatio: d.logVarianceRatio)
        }
        let (loss, acc) = testPass(batchStatistics: false)
        let (_, accBatch) = testPass(batchStatistics: true)
        let trainAcc = trainSeen > 0 ? Double(trainCorrect) / Double(trainSeen) : 0
        trainCorrect = 0; trainSeen = 0
        let rec = EvalRecord(step: step, epoch: Double(step) / Double(plan.batchesPerEpoch), testLoss: loss, testAccuracy: acc,
                             testAccuracyBatchStatistics: accBatch, trainAccuracy: trainAcc, time: elapsed, drift: drift)
        run.store.update { $0.evals.append(rec) }
        dir?.append(rec.json)
        dir?.tensorBoard.add(step: step, scalars: [("test/loss", loss), ("test/accuracy", acc), ("test/accuracy_batch_stats", accBatch),
                                                   ("train/accuracy", trainAcc)])
        dir?.log(String(format: "[%8.1fs] eval at step %d: test loss %.4f, test accuracy %.2f%% (batch statistics %.2f%%), train accuracy %.2f%%",
                        rec.time, step, loss, acc * 100, accBatch * 100, trainAcc * 100))
    }

    func testPass(batchStatistics: Bool) -> (loss: Double, accuracy: Double) {
        model.evaluateWithBatchStatistics(batchStatistics)
        defer { model.evaluateWithBatchStatistics(false) }
        // A validated set and normalisation: the plan cannot fail.
        let evalPlan = try! BatchPlan(set: testSet, batchSize: max(config.batchSize, 250), shuffle: false, augment: false,
                                      normalization: normalization, partial: .keep, seed: 0)
        var loss = 0.0, correct = 0
        for i in 0..<evalPlan.batchesPerEpoch {
            let b = evalPlan.batch(epoch: 0, index: i)
            let r = SoftmaxCrossEntropy.evaluate(logits: model.forward(b.images, training: false), labels: b.labels)
            loss += Double(r.loss) * Double(b.labels.count)
            correct += r.correctTop1
        }
        return (loss / Double(testSet.count), Double(correct) / Double(testSet.count))
    }

    func checkpoint(epoch: Int?) throws {
        guard let path = run.directory else { return }
        var meta = ["step": String(step), "trainCorrect": String(trainCorrect), "trainSeen": String(trainSeen),
                    "elapsed": String(elapsed), "eta": String(eta)]
        for (name, l) in model.adderLayers { meta["gradient." + name] = "\(l.filterRule.rawValue)/\(l.inputRule.rawValue)" }
        if let epoch { meta["epoch"] = String(epoch) }
        do {
            try Checkpoint.save(model: model, optimizer: optimizer, metadata: meta, to: URL(fileURLWithPath: path + "/checkpoints/latest.safetensors"))
            if let epoch {
                try Checkpoint.save(model: model, optimizer: optimizer, metadata: meta, to: URL(fileURLWithPath: path + "/checkpoints/epoch-\(epoch).safetensors"))
            }
        } catch {
            throw RunError("checkpoint failed: \(error)")
        }
    }
}
