import AdderTrain
import Foundation

/// The launcher: pick an experiment, adjust the common fields, launch. Only fields the
/// user changed are applied, each to every run of a group (see `Experiment.load(pinning:)`);
/// a field the group's runs vary shows "varies (k values)" until it is set.
public struct LauncherForm: Sendable {
    public struct Field: Sendable {
        public var label: String
        /// Dotted keys this field sets; the gradient field sets two.
        public var keys: [String]
        /// For choices: the allowed values (a value may set several keys, joined by '/').
        public var choices: [String]?
        public var value: String {
            didSet { touched = true }
        }
        /// The experiment's own value (its first run's, in a group).
        public let original: String
        /// How many values the group's runs have for this field, when more than one.
        public let varies: Int?
        private var touched = false
        /// Set by the user: a value differing from the experiment's, or any value given to a
        /// field the group varies (it then holds for every run). A field set back to the
        /// experiment's single value is unchanged again.
        public var changed: Bool { varies != nil ? touched : value != original }
        /// True while the field reads "varies (k values)": the group varies it, the user has not set it.
        public var showsVaries: Bool { varies != nil && !changed }
        /// What the form shows: the value, or "varies (k values)" until the user sets it.
        public var shown: String { showsVaries ? "varies (\(varies!) values)" : value }

        public init(label: String, keys: [String], choices: [String]?, value: String, varies: Int? = nil) {
            self.label = label; self.keys = keys; self.choices = choices; self.value = value; original = value
            self.varies = varies.flatMap { $0 > 1 ? $0 : nil }
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
        let specs: [(String, [String], [String]?, (ExperimentConfig) -> String)] = [
            ("gradient rule", ["gradient.filter", "gradient.input"], ExperimentConfig.choices["gradient"], { $0.gradientRules.label }),
            ("lr strategy", ["learningRate.strategy"], ExperimentConfig.choices["learningRate.strategy"], { $0.strategy.rawValue }),
            ("eta", ["learningRate.eta"], nil, { String($0.eta) }),
            ("lr", ["optimizer.lr"], nil, { String($0.lr) }),
            ("epochs", ["epochs"], nil, { String($0.epochs) }),
            ("batch", ["batchSize"], nil, { String($0.batchSize) }),
            ("seed", ["seed"], nil, { String($0.seed) }),
            ("dataset", ["dataset"], ExperimentConfig.choices["dataset"], { $0.dataset.rawValue }),
        ]
        // A CNN has no adder layers: the gradient rule, the learning-rate strategy and η do
        // nothing there, so an experiment of CNNs only does not offer them.
        let adderOnly: Set<String> = ["gradient rule", "lr strategy", "eta"]
        let cnnOnly = exp.runs.allSatisfy { $0.placement.isCNN }
        fields = specs.filter { !cnnOnly || !adderOnly.contains($0.0) }.map { label, keys, choices, value in
            Field(label: label, keys: keys, choices: choices, value: value(c), varies: Set(exp.runs.map(value)).count)
        }
        updatePreview()
    }

    /// The names of the runs Launch would start (empty while the fields do not resolve).
    public private(set) var previewNames: [String] = []
    /// "will start n runs: a, b, …" in one line.
    public var preview: String {
        previewNames.isEmpty ? "" : "will start \(previewNames.count) run\(previewNames.count == 1 ? "" : "s"): " + previewNames.joined(separator: ", ")
    }

    /// Each changed field's own problem, checked with that field alone, by field index: every
    /// wrong field is named at once, next to itself, not one per launch attempt.
    public private(set) var fieldErrors: [Int: String] = [:]

    mutating func updatePreview() {
        fieldErrors = [:]
        // The file is read once for every check of this keystroke (one per changed field and
        // the whole form), not once per check.
        let path = experiments.indices.contains(selected) ? experiments[selected].path : nil
        let text = path.flatMap { try? Experiment.text(path: $0) }
        func check(_ overrides: [String]) -> Result<Experiment, ConfigError> {
            guard let path, let text else { return resolve(overrides: overrides) }
            return Result { () throws(ConfigError) in try Experiment.parse(yaml: text, file: path, overrides: overrides, pinning: true) }
        }
        for (i, f) in fields.enumerated() where f.changed {
            if case .failure(let e) = check(LauncherForm.overrides(of: [f])) { fieldErrors[i] = e.message }
        }
        previewNames = (try? check(overrides).get())?.runs.map(\.name) ?? []
    }

    public var launchRow: Int { fields.count + 1 }

    /// `--set` overrides for the changed fields.
    public var overrides: [String] { LauncherForm.overrides(of: fields) }

    static func overrides(of fields: [Field]) -> [String] {
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
                // A varied field's first press picks the value shown first, then moves on.
                fields[row - 1].value = fields[row - 1].showsVaries ? choices[i] : choices[(i + step + choices.count) % choices.count]
                updatePreview()
            }
        case .backspace:
            if row >= 1, row <= fields.count, fields[row - 1].choices == nil {
                if fields[row - 1].showsVaries { fields[row - 1].value = "" } else if !fields[row - 1].value.isEmpty {
                    fields[row - 1].value.removeLast()
                }
                updatePreview()
            }
        case .char(let c):
            if row >= 1, row <= fields.count, fields[row - 1].choices == nil, c.isNumber || ".-eE+".contains(c) {
                // Typing into a field shown as "varies" starts it afresh.
                if fields[row - 1].showsVaries { fields[row - 1].value = "" }
                fields[row - 1].value.append(c)
                updatePreview()
            }
        default: break
        }
        return .stay
    }

    /// The experiment with the overrides, validated; the error (with key path) otherwise.
    public func resolve() -> Result<Experiment, ConfigError> { resolve(overrides: overrides) }

    func resolve(overrides: [String]) -> Result<Experiment, ConfigError> {
        guard experiments.indices.contains(selected) else {
            return .failure(ConfigError(path: "", message: "no experiments found"))
        }
        let path = experiments[selected].path
        return Result { () throws(ConfigError) in try Experiment.load(path: path, overrides: overrides, pinning: true) }
    }
}
