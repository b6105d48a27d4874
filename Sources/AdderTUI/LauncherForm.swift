import AdderTrain
import Foundation

/// The launcher: pick an experiment, adjust the common fields, launch. Only fields the
/// user changed are applied (as `--set` overrides on the experiment's base).
public struct LauncherForm: Sendable {
    public struct Field: Sendable {
        public var label: String
        /// Dotted keys this field sets; the gradient field sets two.
        public var keys: [String]
        /// For choices: the allowed values (a value may set several keys, joined by '/').
        public var choices: [String]?
        public var value: String {
            didSet { changed = value != original }
        }
        /// The experiment's own value; a field set back to it is unchanged again.
        public let original: String
        public private(set) var changed = false

        public init(label: String, keys: [String], choices: [String]?, value: String) {
            self.label = label; self.keys = keys; self.choices = choices; self.value = value; original = value
        }
    }

    public var experiments: [(path: String, name: String, description: String, error: String?)]
    public var selected = 0
    public var fields: [Field] = []
    /// 0: the experiment list; 1…fields.count: a field; fields.count + 1: the launch button.
    public var row = 0
    public var error: String?

    public init(directory: String) {
        experiments = Experiment.list(directory: directory).map { path, result in
            switch result {
            case .success(let e): return (path, e.name, e.description + (e.runs.count > 1 ? " (\(e.runs.count) runs)" : ""), nil)
            case .failure(let err): return (path, (path as NSString).lastPathComponent, "", err.description)
            }
        }
        if let i = experiments.firstIndex(where: { $0.name == "quickstart" }) { selected = i }
        loadFields()
    }

    /// Resets the fields to the selected experiment's values.
    public mutating func loadFields() {
        error = nil
        guard experiments.indices.contains(selected) else { fields = []; return }
        let e = experiments[selected]
        if let err = e.error { error = err; fields = []; return }
        guard let exp = try? Experiment.load(path: e.path), let c = exp.runs.first else { fields = []; return }
        fields = [
            Field(label: "gradient rule", keys: ["gradient.filter", "gradient.input"],
                  choices: ExperimentConfig.choices["gradient"], value: c.gradientRules.label),
            Field(label: "lr strategy", keys: ["learningRate.strategy"], choices: ExperimentConfig.choices["learningRate.strategy"], value: c.strategy.rawValue),
            Field(label: "eta", keys: ["learningRate.eta"], choices: nil, value: String(c.eta)),
            Field(label: "lr", keys: ["optimizer.lr"], choices: nil, value: String(c.lr)),
            Field(label: "epochs", keys: ["epochs"], choices: nil, value: String(c.epochs)),
            Field(label: "batch", keys: ["batchSize"], choices: nil, value: String(c.batchSize)),
            Field(label: "seed", keys: ["seed"], choices: nil, value: String(c.seed)),
            Field(label: "dataset", keys: ["dataset"], choices: ExperimentConfig.choices["dataset"], value: c.dataset.rawValue),
        ]
    }

    public var launchRow: Int { fields.count + 1 }

    /// `--set` overrides for the changed fields.
    public var overrides: [String] {
        fields.filter(\.changed).flatMap { f -> [String] in
            let parts = f.keys.count > 1 ? f.value.split(separator: "/").map(String.init) : [f.value]
            return zip(f.keys, parts).map { "\($0)=\($1)" }
        }
    }

    /// What a key does in the form; `.launch` asks the dashboard to validate and start.
    public enum Outcome: Equatable, Sendable { case stay, cancel, launch }

    public mutating func handle(_ key: Key) -> Outcome {
        switch key {
        case .escape: return .cancel
        case .up, .backTab: row = max(0, row - 1)
        case .down, .tab: row = min(launchRow, row + 1)
        case .enter:
            if row == launchRow { return .launch }
            row = min(launchRow, row + 1)
        case .left, .right:
            let step = key == .right ? 1 : -1
            if row == 0, !experiments.isEmpty {
                selected = (selected + step + experiments.count) % experiments.count
                loadFields()
            } else if row >= 1, row <= fields.count, let choices = fields[row - 1].choices {
                let i = choices.firstIndex(of: fields[row - 1].value) ?? 0
                fields[row - 1].value = choices[(i + step + choices.count) % choices.count]
            }
        case .backspace:
            if row >= 1, row <= fields.count, fields[row - 1].choices == nil, !fields[row - 1].value.isEmpty {
                fields[row - 1].value.removeLast()
            }
        case .char(let c):
            if row >= 1, row <= fields.count, fields[row - 1].choices == nil, c.isNumber || ".-eE+".contains(c) {
                fields[row - 1].value.append(c)
            }
        default: break
        }
        return .stay
    }

    /// The experiment with the overrides, validated; the error (with key path) otherwise.
    public func resolve() -> Result<Experiment, ConfigError> {
        guard experiments.indices.contains(selected) else {
            return .failure(ConfigError(path: "", message: "no experiments found"))
        }
        let path = experiments[selected].path
        return Result { () throws(ConfigError) in try Experiment.load(path: path, overrides: overrides) }
    }
}
