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
        case gradient(GradientRules, layer: String?)
        case toggleGradient(layer: String?)
        case eta(Double)
        case scaleEta(Double)
    }

    private let commands = Mutex<[Command]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchGroup()
    private let queue: DispatchQueue
    /// True when this run continues a run directory from its checkpoint.
    public let resumeRequested: Bool
    /// The number of chunks this run's kernels split into: its results depend only on
    /// its seed and this count, whatever other runs do at the same time.
    public let threads: Int
    /// The ranks this run trains over, data-parallel (a job started by mpirun), or nil.
    /// Every rank makes the same run; rank 0 alone writes the run directory, takes the
    /// controls and tells the others, step by step (see `Trainer.exchangeControls`).
    public let collective: (any Collective)?

    /// True on the process that writes the run directory: rank 0, or a process alone.
    public var isWriter: Bool { (collective?.rank ?? 0) == 0 }

    /// A new run writing to a fresh directory under `runsDirectory` (nil: in memory only),
    /// its kernels split into `threads` chunks; with `collective`, trained over its ranks
    /// (every rank makes the run; only rank 0 makes the directory).
    public init(config: ExperimentConfig, runsDirectory: String?, threads: Int = ProcessInfoCores.active,
                collective: (any Collective)? = nil) throws(RunError) {
        self.config = config
        self.threads = max(1, threads)
        self.collective = collective
        var made: Result<String?, RunError> = .success(nil)
        if let runsDirectory, (collective?.rank ?? 0) == 0 {
            do throws(RunError) { made = .success(try RunDirectory.create(in: runsDirectory, name: config.name, config: config)) } catch { made = .failure(error) }
        }
        directory = try TrainingRun.agreed(made, over: collective)
        resumeRequested = false
        var snapshot = RunSnapshot(config: config)
        snapshot.directory = directory
        store = MetricsStore(snapshot)
        queue = DispatchQueue(label: "adderlab.run.\(config.name)", qos: .userInitiated)
    }

    /// Continues the run in `directory` from its last complete checkpoint (with
    /// `collective`: rank 0 restores it and hands the state to the other ranks, which only
    /// read its config.yaml).
    public init(resuming directory: String, threads: Int = ProcessInfoCores.active, collective: (any Collective)? = nil) throws(RunError) {
        self.threads = max(1, threads)
        self.collective = collective
        let writer = (collective?.rank ?? 0) == 0
        let read: Result<ExperimentConfig, RunError>
        do throws(RunError) {
            // Refused at once when another process writes it (the lock itself is taken when training starts).
            if writer, let holder = RunLock.holder(of: directory) { throw RunLock.busy(directory, holder: holder) }
            read = .success(try RunDirectory.readConfig(directory))
        } catch {
            read = .failure(error)
        }
        config = try TrainingRun.agreed(read, over: collective)
        self.directory = writer ? directory : nil
        resumeRequested = true
        var snapshot = RunSnapshot(config: config)
        snapshot.directory = directory
        store = MetricsStore(snapshot)
        queue = DispatchQueue(label: "adderlab.run.\(config.name)", qos: .userInitiated)
    }

    /// `result`, once every rank has said whether it failed: the first failure of any rank
    /// is thrown on all of them (alone: `result` itself).
    static func agreed<T>(_ result: Result<T, RunError>, over ranks: (any Collective)?) throws(RunError) -> T {
        if let ranks {
            var mine: String?
            if case .failure(let e) = result { mine = e.message }
            if let first = ranks.firstFailure(mine) { throw RunError(first) }
        }
        return try result.get()
    }

    /// Starts training on the run's queue and returns at once; `onEnd` is called on that
    /// queue once the run has ended (its snapshot is terminal by then).
    public func start(onEnd: (@Sendable () -> Void)? = nil) {
        done.enter()
        queue.async { [self] in
            defer { done.leave(); onEnd?() }
            do {
                // Made in its own scope so that a trainer refused by another rank lets go of the lock.
                let trainer: Result<Trainer, RunError> = Parallel.withThreads(threads) {
                    do { return .success(try Trainer(run: self)) } catch { return .failure(RunError(Trainer.describe(error))) }
                }
                try TrainingRun.agreed(trainer, over: collective).trainFromStart()
            } catch {
                // Failed before training could start (data, set-up). A new run's directory gets
                // the reason too (run.log and a failed event); a resumed run's record is left as
                // it was, and nothing is written where another process holds the lock.
                var directory: RunDirectory?
                if let path = self.directory, !resumeRequested, let lock = try? RunLock(directory: path) {
                    directory = try? RunDirectory(path: path, lock: lock)
                }
                MetricsSink(store: store, directory: directory).failure(Trainer.describe(error), step: 0, time: 0)
            }
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
        send(.gradient(GradientRules(filter: filter, input: input), layer: layer))
    }
    /// Flips between (fullPrecision, hardTanh) and (sign, sign).
    public func toggleGradientMode(layer: String? = nil) { send(.toggleGradient(layer: layer)) }
    /// Changes η of the adaptive learning rate.
    public func setEta(_ eta: Double) { send(.eta(eta)) }
    /// Multiplies η by `factor`, applied to η as it is when the command takes effect (so
    /// n presses in a row give factorⁿ); a result outside η's range is ignored.
    public func scaleEta(by factor: Double) { send(.scaleEta(factor)) }

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
    /// The store until the run directory is open, then the store and the directory.
    lazy var sink = MetricsSink(store: run.store, directory: nil)
    let model: Model
    let optimizer: SGD
    /// Whole batches: the sequence a process alone trains on (recalibration reads it).
    let plan: BatchPlan
    /// This rank's share of each batch of `plan` (the whole batch without ranks).
    let share: BatchPlan
    let testSet: ImageSet
    let normalization: Normalization
    let totalSteps: Int
    /// The run directory's lock, held from the start (nil for an in-memory run).
    private let lock: RunLock?
    private let trainCount: Int
    var step = 0
    var eta: Double
    var trainCorrect = 0, trainSeen = 0
    var timeOffset = 0.0
    let started = Date()
    var paused = false
    /// What the resume started from, for the event and the log.
    var resumedFrom = ""
    /// True when the resumed checkpoint's step was already evaluated.
    var evaluatedAtResume = false
    /// The run directory's controls file, followed by the process writing the run from the
    /// moment it holds the lock.
    var controls: ControlFollower?
    /// With ranks: every rank's state checksum at the last check (`checkRanksAgree`).
    var lastChecksums: [UInt64] = []

    var elapsed: Double { timeOffset + Date().timeIntervalSince(started) }

    /// With the run's kernel threads: `train()`.
    func trainFromStart() { Parallel.withThreads(run.threads) { train() } }

    /// Opens the run directory (resuming from its checkpoint) and trains to the end; a
    /// failure ends the run with its reason. With ranks, every rank learns whether rank 0
    /// could open the directory, then takes rank 0's state; a failure after that ends
    /// every rank of the job (MPI_Abort), after rank 0 has recorded it.
    func train() {
        let opened: Result<Void, RunError>
        do { try open(); opened = .success(()) } catch { opened = .failure(RunError(Trainer.describe(error))) }
        do throws(RunError) {
            try TrainingRun.agreed(opened, over: run.collective)
        } catch {
            fail(error.message)
            return
        }
        do {
            if let ranks = run.collective { try startTogether(ranks) }
            try trainLoop()
        } catch {
            let message = Trainer.describe(error)
            fail(message)
            if let ranks = run.collective { abortJob(ranks, message) }
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let e as RunError: return e.message
        case let e as DataError: return e.description
        default: return "\(error)"
        }
    }

    /// Ends the run as failed, with the reason.
    func fail(_ message: String) { sink.failure(message, step: step, time: elapsed) }

    func setState(_ state: RunState, _ message: String = "") throws(RunError) {
        try sink.state(state, message, step: step, time: elapsed)
    }

    func record(_ e: EventRecord) throws(RunError) { try sink.event(e) }

    // MARK: set-up

    /// Takes the run directory's lock, loads the data and builds the model and optimizer;
    /// nothing of the run directory is changed yet.
    init(run: TrainingRun) throws {
        self.run = run
        config = run.config
        eta = config.eta
        // One writer per run directory: taken before anything is read or changed.
        if let path = run.directory {
            lock = try RunLock(directory: path)
            try RunDirectory.checkInside(RunFiles(path))
            // From here on the run is this process's (the dashboard shows it so): controls sent
            // from now on are for it, those of earlier processes are not.
            controls = ControlFollower(run: path)
        } else {
            lock = nil
        }
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
        trainCount = train.count
        do {
            plan = try BatchPlan(set: train, batchSize: config.batchSize, shuffle: true, augment: config.augment ?? data.augment,
                                 normalization: data.normalization, partial: .drop, seed: UInt64(config.seed))
        } catch {
            throw RunError("\(config.name): \(error)")
        }
        if let ranks = run.collective {
            do { share = try plan.sharded(rank: ranks.rank, of: ranks.size) } catch { throw RunError("\(config.name): \(error)") }
        } else {
            share = plan
        }
        totalSteps = plan.batchesPerEpoch * config.epochs
        let model = Model(config.model, placement: config.placement, classes: train.classes, featureDimensions: config.featureDimensions,
                          seed: UInt64(config.seed))
        model.setGradientRules(config.gradientRules)
        model.collective = run.collective
        self.model = model
        optimizer = SGD(parameters: model.namedParameters, configuration: config.sgdConfiguration)
    }

    /// Opens the run directory — resuming from its newest valid checkpoint — and records the start.
    func open() throws {
        if let path = run.directory, let lock {
            if run.resumeRequested {
                try restoreCheckpoint(path)
            }
            sink = MetricsSink(store: run.store, directory: try RunDirectory(path: path, lock: lock))
        }
        let stepsPerEpoch = plan.batchesPerEpoch, total = totalSteps, current = step
        run.store.update {
            $0.totalSteps = total; $0.stepsPerEpoch = stepsPerEpoch; $0.step = current
            $0.gradientMode = self.mode(); $0.eta = self.eta
        }
        if run.resumeRequested {
            try record(EventRecord(step: step, kind: .resumedFromCheckpoint, detail: resumedFrom, time: elapsed))
        } else {
            try sink.log("\(config.name): \(config.model.rawValue) (\(config.adders.rawValue)) on \(config.dataset.rawValue), \(trainCount) training and \(testSet.count) test images, \(totalSteps) steps of \(config.batchSize), \(run.threads) thread\(run.threads == 1 ? "" : "s")"
                         + (run.collective.map { " on each of \($0.size) ranks" } ?? ""))
        }
        try setState(.running)
    }

    /// Restores the newest valid checkpoint of the run directory at `path`: latest, or
    /// the newest epoch-N when latest is missing or damaged (and says so). Every value of
    /// its metadata is cross-checked against the model, the optimizer and config.yaml.
    func restoreCheckpoint(_ path: String) throws {
        let files = RunFiles(path)
        let existing = files.checkpointCandidates.filter { FileManager.default.fileExists(atPath: $0) || isSymlink($0) }
        guard !existing.isEmpty else {
            // Killed before the first checkpoint: start over in the same directory, keeping
            // what was recorded before in a file of its own (nothing written is lost).
            let old = RunReader.read(metricsAt: files.metrics)
            let keptHistograms = try keepAside(files.histograms, as: files.histogramsBeforeRestart)
            let keptFeatures = try keepAside(files.features, as: files.featuresBeforeRestart)
            let also = (keptHistograms.map { " (histograms in \(($0 as NSString).lastPathComponent))" } ?? "")
                + (keptFeatures.map { " (features in \(($0 as NSString).lastPathComponent))" } ?? "")
            if let kept = try keepAside(files.metrics, as: files.metricsBeforeRestart) {
                resumedFrom = "no checkpoint: started again from step 0; the \(old.steps.count) steps recorded before are in \((kept as NSString).lastPathComponent)" + also
            } else {
                try RunDirectory.truncateMetrics(in: path, after: -1)
                resumedFrom = "no checkpoint yet: started again from step 0" + also
            }
            return
        }
        var rejected: [String] = []
        var restored: (file: String, state: CheckpointState)?
        for file in existing {
            do {
                let meta = try Checkpoint.read(metadataOf: URL(fileURLWithPath: file))
                let state = try CheckpointState(metadata: meta, file: file, config: config, model: model, totalSteps: totalSteps)
                try Checkpoint.load(from: URL(fileURLWithPath: file), into: model, optimizer: optimizer)
                restored = (file, state)
                break
            } catch {
                rejected.append("\((file as NSString).lastPathComponent): \(error)")
            }
        }
        guard let (file, state) = restored else {
            throw RunError("cannot resume \(path): no usable checkpoint (\(rejected.joined(separator: "; ")))")
        }
        step = state.step
        trainCorrect = state.trainCorrect
        trainSeen = state.trainSeen
        timeOffset = state.elapsed
        eta = state.eta
        optimizer.configuration.eta = Float(state.eta)
        for (name, layer) in model.adderLayers { if let r = state.rules[name] { layer.rules = r } }
        let name = (file as NSString).lastPathComponent
        resumedFrom = "step \(step) of \(totalSteps) from \(name)"
            + (rejected.isEmpty ? "" : " (skipped \(rejected.joined(separator: "; ")))")
        let before = RunReader.read(metricsAt: files.metrics)
        if step == totalSteps, let last = before.events.last(where: { $0.kind == .state }), last.detail.hasPrefix(RunState.finished.rawValue) {
            throw RunError("\(path) finished all \(totalSteps) steps; there is nothing to resume")
        }
        try RunDirectory.truncateMetrics(in: path, after: step)
        // Rebuild the in-memory history from what the file kept.
        let history = RunReader.read(metricsAt: files.metrics)
        evaluatedAtResume = history.evals.contains { $0.step == step }
        run.store.update { $0.steps = history.steps; $0.evals = history.evals; $0.layers = history.layers; $0.events = history.events }
    }

    /// Moves a non-empty `file` to `kept` (a name never taken before: a second restart in the
    /// same second gets "-2") so that a restart from step 0 loses nothing; returns `kept`, or
    /// nil when there was nothing to keep. link() never replaces; where hard links are not
    /// supported, rename under our lock.
    private func keepAside(_ file: String, as kept: String) throws(RunError) -> String? {
        guard ((try? InputFile.size(file)) ?? 0) > 0 else { return nil }
        if link(file, kept) == 0 {
            guard unlink(file) == 0 else { throw RunError("cannot keep the old records: \(FileFailure.posix("unlink", file))") }
        } else {
            let code = errno
            guard code == EPERM || code == EXDEV || code == ENOTSUP || code == EOPNOTSUPP || code == EMLINK, !InputFile.entryExists(kept),
                  rename(file, kept) == 0 else {
                throw RunError("cannot keep the old records: \(FileFailure.posix("link", kept, errno: code))")
            }
        }
        return kept
    }

    private func isSymlink(_ path: String) -> Bool {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil
    }

    // MARK: the loop

    func trainLoop() throws {
        let schedule = config.learningRateSchedule(stepsPerEpoch: plan.batchesPerEpoch)
        let perEpoch = plan.batchesPerEpoch
        let prefetcher = BatchPrefetcher(plan: share, startEpoch: step / perEpoch, startIndex: step % perEpoch, endEpoch: config.epochs)
        defer { prefetcher.cancel() }
        var lastEval = evaluatedAtResume ? step : -1, lastCheckpoint = run.resumeRequested ? step : -1
        while step < totalSteps {
            if try exchangeControls() { try finishStopped(); return }
            guard let batch = prefetcher.next() else { break }
            let t0 = Date()
            let lr = schedule.rate(at: step)
            // Output statistics cost a pass per layer: only on steps that publish them.
            // (With ranks, only rank 0 publishes them.)
            model.recordsOutputStatistics = run.isWriter && ((step + 1) % config.layerStatsEvery == 0 || step + 1 == totalSteps)
            // Outputs are kept (for their histograms) only on the steps that record them.
            model.keepsOutputs = run.isWriter && histogramsDue(at: step + 1)
            let result = model.trainStep(images: batch.images, labels: batch.labels, optimizer: optimizer, learningRate: lr)
            step += 1
            let dt = Date().timeIntervalSince(t0)
            // The global batch's counts (with ranks, the result is summed over them).
            let images = batch.labels.count * (run.collective?.size ?? 1)
            trainCorrect += result.correctTop1; trainSeen += images
            if let problem = divergence(loss: result.loss) {
                try setState(.diverged, problem)
                return
            }
            let rec = StepRecord(step: step, epoch: Double(step) / Double(perEpoch), loss: Double(result.loss), learningRate: Double(lr),
                                 imagesPerSecond: Double(images) / max(dt, 1e-9),
                                 batchAccuracy: Double(result.correctTop1) / Double(images), time: elapsed)
            try publish(rec)
            // Layer records, histograms and evaluations come from rank 0 (its share's outputs).
            if run.isWriter, step % config.layerStatsEvery == 0 || step == totalSteps { try publishLayers() }
            if run.isWriter, histogramsDue(at: step) { try publishHistograms() }
            let epochEnd = step % perEpoch == 0
            if (config.evalEvery > 0 && step % config.evalEvery == 0) || (config.evalEvery == 0 && epochEnd) || step == totalSteps {
                try evaluate(); lastEval = step
            }
            if (config.checkpointEvery > 0 && step % config.checkpointEvery == 0) || (config.checkpointEvery == 0 && epochEnd) {
                try checkpoint(epoch: epochEnd ? step / perEpoch : nil); lastCheckpoint = step
            }
        }
        if lastEval != step { try evaluate() }
        if lastCheckpoint != step { try checkpoint(epoch: nil) }
        if let ranks = run.collective { try sink.log(ranksSummary(ranks)) }
        try setState(.finished)
    }

    /// Applies queued controls; true when the run must stop now.
    func applyCommands() throws(RunError) -> Bool {
        while true {
            try takeRemoteCommands()
            for c in run.takeCommands() {
                switch c {
                case .pause where !paused:
                    paused = true
                    run.store.update { $0.state = .paused }
                    try record(EventRecord(step: step, kind: .pause, detail: "", time: elapsed))
                case .resume where paused:
                    paused = false
                    run.store.update { $0.state = .running }
                    try record(EventRecord(step: step, kind: .resume, detail: "", time: elapsed))
                case .stop:
                    return true
                case let .gradient(rules, layer):
                    try setRules(rules, layer: layer)
                case let .toggleGradient(layer):
                    let target = model.adderLayers.first { layer == nil || $0.0 == layer }?.1
                    try setRules(target?.filterRule == .fullPrecision ? .sign : .paper, layer: layer)
                case let .scaleEta(f) where ExperimentConfig.isValidEta(eta * f) && Float(eta * f) > 0:
                    try setEta(eta * f)
                case let .eta(e) where ExperimentConfig.isValidEta(e):
                    try setEta(e)
                default:
                    break
                }
            }
            if !paused { return false }
            run.sleepUntilCommand()
        }
    }

    /// Queues the commands added to the run directory's controls file since the last look
    /// (by the dashboard of another process), as if they came from this process.
    func takeRemoteCommands() throws(RunError) {
        guard let controls else { return }
        let (commands, ignored) = controls.poll()
        // A few lines named; a flood of garbage is counted, not copied into the log.
        for line in ignored.prefix(3) { try sink.log("ignored a line of controls: \(line); expected \(RemoteCommand.expected)") }
        if ignored.count > 3 { try sink.log("ignored \(ignored.count - 3) more lines of controls") }
        for c in commands {
            switch c {
            case .pause: run.pause()
            case .resume: run.resumeTraining()
            case .stop: run.stop()
            case .toggleGradient: run.toggleGradientMode()
            case .scaleEta(let f): run.scaleEta(by: f)
            }
        }
    }

    func setEta(_ e: Double) throws(RunError) {
        eta = e
        optimizer.configuration.eta = Float(e)
        run.store.update { $0.eta = e }
        try record(EventRecord(step: step, kind: .eta, detail: String(format: "%g", e), time: elapsed))
    }

    func setRules(_ rules: GradientRules, layer: String?) throws(RunError) {
        guard !model.adderLayers.isEmpty else { return }
        model.setGradientRules(rules, layer: layer)
        let now = mode()
        run.store.update { $0.gradientMode = now }
        try record(EventRecord(step: step, kind: .gradientMode, detail: rules.label + (layer.map { " (\($0))" } ?? ""), time: elapsed))
    }

    func mode() -> GradientMode { GradientMode(layers: model.adderLayers.map(\.1.rules)) }

    func finishStopped() throws(RunError) {
        do { try checkpoint(epoch: nil) } catch { fail("stopped, but the checkpoint failed: \(error)"); return }
        if let ranks = run.collective { try sink.log(ranksSummary(ranks)) }
        try setState(.stopped)
    }

    /// A message naming where NaN or ∞ appeared, or nil.
    func divergence(loss: Float) -> String? {
        if !loss.isFinite { return "loss is \(loss) at step \(step)" }
        for (name, p) in optimizer.parameters where !p.gradNorm.isFinite {
            return "non-finite gradient in \(name) at step \(step)"
        }
        return nil
    }

    func publish(_ r: StepRecord) throws(RunError) { try sink.step(r, totalSteps: totalSteps) }

    func publishLayers() throws(RunError) { try sink.layers(LayerRecord(step: step, layers: model.layerStatistics())) }

    /// True when `step` records histograms: every `histogramEvery` steps and at the last (never with 0).
    func histogramsDue(at step: Int) -> Bool {
        config.histogramEvery > 0 && (step % config.histogramEvery == 0 || step == totalSteps)
    }

    /// The histograms of every layer with a weight: its filter weights now, and its outputs
    /// on this step's batch (kept by the forward pass of this step).
    func publishHistograms() throws(RunError) {
        let layers = model.statisticLayers.compactMap { name, layer -> LayerHistograms? in
            let stats = layer as? any OutputStatistics
            defer { stats?.keptOutput = nil }
            guard let weight = layer.localParameters.first(where: { $0.0 == "weight" })?.1,
                  let weights = weight.value.withUnsafeBufferPointer({ Histogram(values: $0) }) else { return nil }
            let outputs = stats?.keptOutput.flatMap { out in out.withUnsafeBufferPointer { Histogram(values: $0) } }
            return LayerHistograms(name: name, type: layer.typeName, weights: weights, outputs: outputs)
        }
        model.keepsOutputs = false
        try sink.histograms(HistogramRecord(step: step, layers: layers))
    }

    /// Test loss and accuracy with running statistics, accuracy with batch statistics,
    /// training accuracy since the last evaluation, and batch-norm drift. With ranks, each
    /// rank evaluates every N-th test batch and the sums are added up; rank 0 records.
    func evaluate() throws(RunError) {
        let drift = model.batchNorms.map { name, bn in
            let d = bn.drift()
            return DriftRecord(name: name, meanGap: d.meanGap, logVarianceRatio: d.logVarianceRatio)
        }
        // The remedy, when asked for: running statistics recomputed from the first training
        // batches of this epoch (the drift above is the one training left).
        // With ranks, each forward takes this rank's share of the batch and batch norm sums
        // over the ranks: every rank gets the running statistics of the whole batches.
        if config.batchNormRecalibration > 0 {
            let epoch = step / plan.batchesPerEpoch
            model.recalibrateBatchNorm((0..<min(config.batchNormRecalibration, plan.batchesPerEpoch)).map { share.batch(epoch: epoch, index: $0).images })
        }
        let running = testPass(batchStatistics: false), batch = testPass(batchStatistics: true)
        var sums = [running.loss, Double(running.correct), Double(batch.correct)]
        run.collective?.sum(&sums)
        let trainAcc = trainSeen > 0 ? Double(trainCorrect) / Double(trainSeen) : 0
        trainCorrect = 0; trainSeen = 0
        guard run.isWriter else { return }
        let count = Double(testSet.count)
        let (loss, acc, accBatch) = (sums[0] / count, sums[1] / count, sums[2] / count)
        let rec = EvalRecord(step: step, epoch: Double(step) / Double(plan.batchesPerEpoch), testLoss: loss, testAccuracy: acc,
                             testAccuracyBatchStatistics: accBatch, trainAccuracy: trainAcc, time: elapsed, drift: drift)
        try sink.evaluation(rec)
        if let features = featureRecord() { try sink.features(features) }
    }

    /// The feature layer's output for the first `FeatureRecord.sampleCount` test images
    /// (the same ones every time), or nil for a model without a 2-unit feature layer.
    func featureRecord() -> FeatureRecord? {
        guard model.featureDimensions == 2 else { return nil }
        let n = min(FeatureRecord.sampleCount, testSet.count)
        let evalPlan = try! BatchPlan(set: testSet, batchSize: max(config.batchSize, 250), shuffle: false, augment: false,
                                      normalization: normalization, partial: .keep, seed: 0)
        var rec = FeatureRecord(step: step, epoch: Double(step) / Double(plan.batchesPerEpoch), x: [], y: [], labels: [])
        var i = 0
        while rec.count < n, i < evalPlan.batchesPerEpoch {
            let b = evalPlan.batch(epoch: 0, index: i)
            i += 1
            guard let f = model.features(b.images) else { return nil }
            let take = min(b.labels.count, n - rec.count)
            f.withUnsafeBufferPointer { p in
                for k in 0..<take { rec.x.append(p[2 * k]); rec.y.append(p[2 * k + 1]) }
            }
            rec.labels += b.labels.prefix(take)
        }
        return rec
    }

    /// The summed loss and the correct count over the test batches this rank evaluates
    /// (every one without ranks; with N ranks, batches rank, rank + N, …).
    func testPass(batchStatistics: Bool) -> (loss: Double, correct: Int) {
        model.evaluateWithBatchStatistics(batchStatistics)
        defer { model.evaluateWithBatchStatistics(false) }
        // A validated set and normalisation: the plan cannot fail.
        let evalPlan = try! BatchPlan(set: testSet, batchSize: max(config.batchSize, 250), shuffle: false, augment: false,
                                      normalization: normalization, partial: .keep, seed: 0)
        var loss = 0.0, correct = 0
        for i in stride(from: run.collective?.rank ?? 0, to: evalPlan.batchesPerEpoch, by: run.collective?.size ?? 1) {
            let b = evalPlan.batch(epoch: 0, index: i)
            let r = SoftmaxCrossEntropy.evaluate(logits: model.forward(b.images, training: false), labels: b.labels)
            loss += Double(r.loss) * Double(b.labels.count)
            correct += r.correctTop1
        }
        return (loss, correct)
    }

    func checkpoint(epoch: Int?) throws {
        if let ranks = run.collective { try checkRanksAgree(ranks) }
        guard let path = run.directory else { return }
        let meta = CheckpointState(step: step, trainCorrect: trainCorrect, trainSeen: trainSeen, elapsed: elapsed, eta: eta,
                                   rules: Dictionary(uniqueKeysWithValues: model.adderLayers.map { ($0.0, $0.1.rules) }),
                                   config: config, epoch: epoch).metadata
        do {
            let files = RunFiles(path)
            try Checkpoint.save(model: model, optimizer: optimizer, metadata: meta, to: URL(fileURLWithPath: files.latestCheckpoint))
            if let epoch {
                try Checkpoint.save(model: model, optimizer: optimizer, metadata: meta, to: URL(fileURLWithPath: files.epochCheckpoint(epoch)))
            }
        } catch {
            throw RunError("checkpoint failed: \(error)")
        }
    }
}
