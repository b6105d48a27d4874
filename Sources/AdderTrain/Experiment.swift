import AdderCore
import Foundation

/// An experiment file: one run, or a group of runs (overrides on a base, a grid over a
/// few keys, repeated over seeds) that launch together as a comparison.
///
///     group:
///       runs:                     # each entry: an optional label and dotted keys to override
///         - {label: cnn, adders: cnn}
///       grid:                     # every combination of these values
///         gradient.filter: [fullPrecision, sign]
///         learningRate.strategy: [adaptive, fixed, scaled]
///       seeds: [1, 2, 3]          # every variant once per seed
public struct Experiment: Sendable {
    public let file: String?
    public let name: String
    public let description: String
    /// The resolved runs, with names made unique per variant and seed.
    public let runs: [ExperimentConfig]
    /// Each run's label within the group (`cnn-s1`, `sign-fixed-s2`; empty for a single
    /// run): its name is the experiment's name, a dash and the label.
    public let labels: [String]

    /// Reads and validates `path`, applying `--set key=value` overrides to the base first
    /// (a group's own values for a key win over an override of it). With `pinning`, an
    /// overridden key is taken out of the group's variation instead, so every run gets the
    /// value given: the launcher's fields mean "this value for every run".
    public static func load(path: String, overrides: [String] = [], pinning: Bool = false) throws(ConfigError) -> Experiment {
        try parse(yaml: text(path: path), file: path, overrides: overrides, pinning: pinning)
    }

    /// An experiment file's text, read within the YAML size limit; the error names the file.
    public static func text(path: String) throws(ConfigError) -> String {
        let data: Data
        do { data = try InputFile.read(path, limit: YAMLEvents.maximumBytes) } catch {
            throw ConfigError(file: path, path: "", message: error.problem)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, path: "", message: "is not UTF-8 text")
        }
        return text
    }

    public static func parse(yaml: String, file: String? = nil, overrides: [String] = [], pinning: Bool = false) throws(ConfigError) -> Experiment {
        var tree: ConfigValue
        do { tree = try ConfigValue.parse(yaml: yaml) } catch { throw ConfigError(file: file, path: error.path, message: error.message, line: error.line) }
        guard case .map = tree else { throw ConfigError(file: file, path: "", message: "must be a map of keys (name, model, dataset, …)") }
        var fromSet: [String: String] = [:]  // key → the --set argument, for errors
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                throw ConfigError(file: file, path: "", message: "--set '\(o.prefix(200))' must look like key=value (e.g. optimizer.lr=0.05)")
            }
            let key = String(o[..<eq]), value = String(o[o.index(after: eq)...])
            let parts = key.split(separator: ".", omittingEmptySubsequences: false)
            guard key.count <= 100, parts.count <= 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber } }) else {
                throw ConfigError(file: file, path: "", message: "--set key '\(key.prefix(100))' is not a key of an experiment: one to three names joined by dots, such as optimizer.lr")
            }
            guard value.utf8.count <= 4096 else {
                throw ConfigError(file: file, path: key, message: "--set value is \(value.utf8.count) bytes; at most 4096")
            }
            tree.set(key, to: ConfigValue.scalar(value))
            fromSet[key] = o
        }
        let group = tree["group"]
        let base = tree.removing("group")
        let baseConfig: ExperimentConfig
        do { baseConfig = try ExperimentConfig(tree: base, file: file) } catch {
            // A bad value given with --set is blamed on --set, not on the file.
            if let o = fromSet[error.path] { throw ConfigError(file: "--set \(o)", path: error.path, message: error.message) }
            throw error
        }
        guard let group, group != .null else {
            return Experiment(file: file, name: baseConfig.name, description: baseConfig.description, runs: [baseConfig], labels: [""])
        }
        let variants = try expand(group: group, file: file, pinned: pinning ? Set(fromSet.keys) : [])
        guard variants.count <= maximumRuns else {
            throw ConfigError(file: file, path: "group", message: "expands to \(variants.count) runs; an experiment holds at most \(maximumRuns) (split the sweep into several files)")
        }
        var runs: [ExperimentConfig] = []
        var labels: [String] = []
        for v in variants {
            var t = base
            for (k, value) in v.sets { t.set(k, to: value) }
            var config: ExperimentConfig
            do { config = try ExperimentConfig(tree: t, file: file) } catch {
                throw ConfigError(file: file, path: error.path, message: error.message + " (in group variant '\(v.label)')", line: error.line)
            }
            config.name = baseConfig.name + (v.label.isEmpty ? "" : "-" + v.label)
            // Labels and grid values become part of a directory name: check the whole name.
            if let problem = RunName.problem(config.name) {
                throw ConfigError(file: file, path: v.origin, message: "makes the run name '\(config.name.debugDescription.dropFirst().dropLast())', which \(problem); a run name is \(RunName.allowed)", line: v.line)
            }
            runs.append(config)
            labels.append(v.label)
        }
        var seen = Set<String>()
        for r in runs where !seen.insert(r.name).inserted {
            throw ConfigError(file: file, path: "group", message: "two runs would both be named '\(r.name)'; give the runs distinct labels")
        }
        return Experiment(file: file, name: baseConfig.name, description: baseConfig.description, runs: runs, labels: labels)
    }

    /// The most runs one experiment may expand to (each gets a directory and a queue).
    public static let maximumRuns = 1000

    struct Variant {
        var label: String
        var sets: [(String, ConfigValue)]
        /// Where the label came from, for errors: the key path and line.
        var origin = "group"
        var line: Int?
    }

    /// The group's variants; keys in `pinned` are not varied (grid axes and run entries'
    /// keys over them are dropped, and seeds when `seed` is pinned).
    static func expand(group: ConfigValue, file: String?, pinned: Set<String> = []) throws(ConfigError) -> [Variant] {
        guard case .map(let entries) = group else { throw ConfigError(file: file, path: "group", message: "must be a map with runs, grid and/or seeds") }
        for e in entries where !["runs", "grid", "seeds"].contains(e.key) {
            throw ConfigError(file: file, path: "group." + e.key, message: "is not a known key; expected one of grid, runs, seeds", line: e.line)
        }
        var variants: [Variant] = []
        if let runs = group["runs"] {
            guard case .list(let items) = runs, !items.isEmpty else {
                throw ConfigError(file: file, path: "group.runs", message: "must be a non-empty list of overrides")
            }
            for (i, item) in items.enumerated() {
                guard case .map(let kv) = item else {
                    throw ConfigError(file: file, path: "group.runs[\(i)]", message: "must be a map of dotted keys to values, found \(item)")
                }
                var v = Variant(label: "", sets: [], origin: "group.runs[\(i)]")
                for e in kv {
                    if e.key == "label" {
                        v.origin = "group.runs[\(i)].label"; v.line = e.line
                        guard case .string(let s) = e.value else {
                            throw ConfigError(file: file, path: "group.runs[\(i)].label", message: "must be a string", line: e.line)
                        }
                        v.label = s
                    } else {
                        v.sets += flatten(e.key, e.value).filter { !pinned.contains($0.0) }
                    }
                }
                if v.label.isEmpty { v.label = v.sets.map { "\($0.1)" }.joined(separator: "-") }
                variants.append(v)
            }
        }
        if let grid = group["grid"] {
            guard case .map(let axes) = grid, !axes.isEmpty else {
                throw ConfigError(file: file, path: "group.grid", message: "must map dotted keys to lists of values")
            }
            var combos = [Variant(label: "", sets: [])]
            for axis in axes where !pinned.contains(axis.key) {
                guard case .list(let values) = axis.value, !values.isEmpty else {
                    throw ConfigError(file: file, path: "group.grid." + axis.key, message: "must be a non-empty list of values", line: axis.line)
                }
                guard combos.count * values.count <= maximumRuns else {
                    throw ConfigError(file: file, path: "group.grid", message: "expands to more than \(maximumRuns) runs; an experiment holds at most \(maximumRuns) (split the sweep into several files)", line: axis.line)
                }
                combos = combos.flatMap { c in
                    values.map { v in
                        Variant(label: c.label.isEmpty ? "\(v)" : c.label + "-\(v)", sets: c.sets + [(axis.key, v)],
                                origin: "group.grid." + axis.key, line: axis.line)
                    }
                }
            }
            variants += combos
        }
        if variants.isEmpty { variants = [Variant(label: "", sets: [])] }
        if let seeds = group["seeds"], !pinned.contains("seed") {
            guard case .list(let list) = seeds, !list.isEmpty else {
                throw ConfigError(file: file, path: "group.seeds", message: "must be a non-empty list of whole numbers")
            }
            guard variants.count * list.count <= maximumRuns else {
                throw ConfigError(file: file, path: "group.seeds", message: "with \(list.count) seeds the group expands to \(variants.count * list.count) runs; an experiment holds at most \(maximumRuns)")
            }
            var seeded: [Variant] = []
            for v in variants {
                for s in list {
                    guard case .int(let seed) = s, seed >= 0, seed <= ExperimentConfig.maximumSeed else {
                        throw ConfigError(file: file, path: "group.seeds", message: "\(s) is not a whole number from 0 to \(ExperimentConfig.maximumSeed)")
                    }
                    seeded.append(Variant(label: (v.label.isEmpty ? "" : v.label + "-") + "s\(seed)", sets: v.sets + [("seed", .int(seed))],
                                          origin: v.origin, line: v.line))
                }
            }
            variants = seeded
        }
        return variants
    }

    /// A nested map under a key becomes dotted keys.
    static func flatten(_ key: String, _ value: ConfigValue) -> [(String, ConfigValue)] {
        if case .map(let inner) = value { return inner.flatMap { flatten(key + "." + $0.key, $0.value) } }
        return [(key, value)]
    }

    /// Where experiment files live unless the user says otherwise.
    public static let defaultDirectory = "experiments"

    /// The file an experiment argument names: a path as given, else `NAME` or `NAME.yaml`
    /// in `directory` ("quickstart" → experiments/quickstart.yaml); the argument itself
    /// when none exists (so that the error names what the user typed).
    public static func resolve(_ name: String, in directory: String = defaultDirectory) -> String {
        if FileManager.default.fileExists(atPath: name) { return name }
        let dir = directory as NSString
        for candidate in [dir.appendingPathComponent(name), dir.appendingPathComponent(name + ".yaml")]
        where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        return name
    }

    /// Every `*.yaml` in `directory`, sorted, each parsed or with its error (one broken
    /// file does not hide the others).
    public static func list(directory: String) -> [(path: String, result: Result<Experiment, ConfigError>)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { n in
            let p = (directory as NSString).appendingPathComponent(n)
            return (p, Result { () throws(ConfigError) in try load(path: p) })
        }
    }
}
