import AdderCore
import AdderNN
import Foundation

/// What a checkpoint records of the run besides the tensors: written into its metadata
/// and read back from it here, and nowhere else. Reading checks every value — its range,
/// and that it agrees with the model, the optimizer and config.yaml — because a
/// checkpoint is a file anyone can edit.
struct CheckpointState: Equatable {
    var step: Int
    var trainCorrect: Int
    var trainSeen: Int
    /// Seconds of training so far (across resumes).
    var elapsed: Double
    var eta: Double
    /// The gradient rules of every adder layer, by name.
    var rules: [String: GradientRules]
    /// The resolved configuration, as config.yaml holds it.
    var config: ExperimentConfig
    /// The epoch that ended at this step, for epoch-N checkpoints.
    var epoch: Int?

    /// The metadata strings (Checkpoint.save adds format, model, classes and the optimizer's step count).
    var metadata: [String: String] {
        var m = ["step": String(step), "trainCorrect": String(trainCorrect), "trainSeen": String(trainSeen),
                 "elapsed": String(elapsed), "eta": String(eta), "config": config.tree.yaml()]
        for (name, r) in rules { m["gradient." + name] = r.label }
        if let epoch { m["epoch"] = String(epoch) }
        return m
    }

    /// Reads and checks `meta` for a run of `config` on `model` with `totalSteps` steps.
    init(metadata meta: [String: String], file: String, config current: ExperimentConfig, model: Model, totalSteps: Int) throws(RunError) {
        func bad(_ key: String, _ expected: String) -> RunError {
            RunError("metadata '\(key)' is '\(meta[key] ?? "(missing)")', expected \(expected)")
        }
        guard let s = meta["step"].flatMap({ Int($0) }), s >= 0, s <= totalSteps else {
            throw bad("step", "a step between 0 and \(totalSteps)")
        }
        guard let steps = meta["optimizer.steps"].flatMap({ Int($0) }), steps == s else {
            throw bad("optimizer.steps", "\(s), the checkpoint's step")
        }
        let seenLimit = s.multipliedReportingOverflow(by: current.batchSize).partialValue
        guard let seen = meta["trainSeen"].flatMap({ Int($0) }), seen >= 0, seen <= seenLimit else {
            throw bad("trainSeen", "a count of images between 0 and \(seenLimit)")
        }
        guard let correct = meta["trainCorrect"].flatMap({ Int($0) }), correct >= 0, correct <= seen else {
            throw bad("trainCorrect", "a count between 0 and trainSeen (\(seen))")
        }
        guard let elapsed = meta["elapsed"].flatMap({ Double($0) }), elapsed.isFinite, elapsed >= 0, elapsed <= 1e10 else {
            throw bad("elapsed", "seconds, a finite number ≥ 0")
        }
        guard let e = meta["eta"].flatMap({ Double($0) }), ExperimentConfig.isValidEta(e) else {
            throw bad("eta", "a number > 0 and ≤ 1e6")
        }
        guard meta["format"] == Checkpoint.format else { throw bad("format", Checkpoint.format) }
        guard meta["model"] == current.model.rawValue else { throw bad("model", current.model.rawValue) }
        guard meta["classes"] == String(model.classes) else { throw bad("classes", "\(model.classes)") }
        let adders = Set(model.adderLayers.map(\.0))
        let recorded = Set(meta.keys.filter { $0.hasPrefix("gradient.") }.map { String($0.dropFirst(9)) })
        guard recorded == adders else {
            throw RunError("its adder layers (\(recorded.sorted().joined(separator: ", "))) are not the model's (\(adders.sorted().joined(separator: ", "))): config.yaml's adders '\(current.adders.rawValue)' does not match the checkpoint")
        }
        var rules: [String: GradientRules] = [:]
        for name in adders {
            guard let r = GradientRules(label: meta["gradient." + name]!) else {
                throw bad("gradient." + name, "filter/input rules such as fullPrecision/hardTanh")
            }
            rules[name] = r
        }
        guard let text = meta["config"] else {
            throw bad("config", "the run's configuration (a checkpoint without it cannot be checked against config.yaml)")
        }
        let saved: ExperimentConfig
        do { saved = try ExperimentConfig(tree: try ConfigValue.parse(yaml: text), file: file + " metadata 'config'") } catch {
            throw RunError("its metadata 'config' is not a valid configuration: \(error)")
        }
        var mine = current, theirs = saved
        mine.description = ""; theirs.description = ""
        if mine != theirs {
            let b = Dictionary(RunGrouping.flatten(theirs.tree), uniquingKeysWith: { x, _ in x })
            let shown = RunGrouping.flatten(mine.tree).filter { b[$0.0] != $0.1 }.map { k, v in "\(k) is \(v) in config.yaml but \(b[k] ?? "missing") in the checkpoint" }
            throw RunError("config.yaml was changed after the run started: \(shown.joined(separator: ", ")); restore it or start a new run")
        }
        let epoch = meta["epoch"].flatMap { Int($0) }
        self.init(step: s, trainCorrect: correct, trainSeen: seen, elapsed: elapsed, eta: e, rules: rules, config: saved, epoch: epoch)
    }

    init(step: Int, trainCorrect: Int, trainSeen: Int, elapsed: Double, eta: Double, rules: [String: GradientRules],
         config: ExperimentConfig, epoch: Int?) {
        self.step = step; self.trainCorrect = trainCorrect; self.trainSeen = trainSeen; self.elapsed = elapsed
        self.eta = eta; self.rules = rules; self.config = config; self.epoch = epoch
    }
}
