import Foundation

/// A mean with its sample standard deviation over n values.
public struct MeanStd: Sendable, Equatable {
    public let mean: Double
    /// Sample standard deviation (n − 1); nil for a single value.
    public let std: Double?
    public let count: Int

    /// nil for no values; non-finite values are left out.
    public init?(_ values: [Double]) {
        let v = values.filter(\.isFinite)
        guard !v.isEmpty else { return nil }
        let m = v.reduce(0, +) / Double(v.count)
        mean = m
        count = v.count
        std = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : nil
    }

    /// "89.90 ± 0.13%" (percent) or "0.3012 ± 0.0040"; the mean alone for one value.
    public func text(percent: Bool, plusMinus: String = "±") -> String {
        let scale = percent ? 100.0 : 1.0
        let digits = percent ? "%.2f" : "%.4f"
        let m = String(format: digits, mean * scale)
        guard let std else { return m + (percent ? "%" : "") }
        return m + " \(plusMinus) " + String(format: digits, std * scale) + (percent ? "%" : "")
    }
}

/// Runs whose resolved configurations differ only in `seed` (and name): one cell of a
/// comparison, with its statistics over the seeds.
public struct RunGroup: Sendable {
    /// The values of the grouping keys (the differing keys other than seed).
    public let key: [String]
    /// A short label built from what differs ("fp·adaptive"), the same in every view.
    public let label: String
    public let runs: [RunSnapshot]
    /// The runs' positions in the list the grouping was made from.
    public let indices: [Int]
    /// What identifies the group wherever it is shown (its colour slot comes from it): its
    /// grouping values, which, unlike its label, do not change when other runs are listed.
    public var identity: String { "group:" + key.joined(separator: "\u{1F}") }

    // The statistics, worked out once when the group is made (views read them many times).
    public let finalAccuracy: MeanStd?
    public let bestAccuracy: MeanStd?
    public let finalLoss: MeanStd?
    /// Mean over the runs of each run's mean images per second.
    public let imagesPerSecond: Double
    public let meanSeconds: Double

    init(key: [String], label: String, runs: [RunSnapshot], indices: [Int]) {
        self.key = key; self.label = label; self.runs = runs; self.indices = indices
        finalAccuracy = MeanStd(runs.compactMap(\.finalAccuracy))
        bestAccuracy = MeanStd(runs.compactMap(\.bestAccuracy))
        finalLoss = MeanStd(runs.compactMap(\.finalLoss))
        let ips = runs.map(RunGrouping.meanImagesPerSecond).filter { $0 > 0 }
        imagesPerSecond = ips.isEmpty ? 0 : ips.reduce(0, +) / Double(ips.count)
        meanSeconds = runs.isEmpty ? 0 : runs.map(\.elapsed).reduce(0, +) / Double(runs.count)
    }
    /// "3 finished", "2 running 1 queued": counts of the runs' states, most frequent first.
    public var statesText: String {
        var counts: [(RunState, Int)] = []
        for r in runs {
            if let i = counts.firstIndex(where: { $0.0 == r.state }) { counts[i].1 += 1 } else { counts.append((r.state, 1)) }
        }
        return counts.sorted { $0.1 > $1.1 }.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: " ")
    }
}

/// Groups of runs that differ only in their seed, with the configuration keys that differ
/// among all the runs (as `compare` shows them) and short labels for each group.
public struct RunGrouping: Sendable {
    /// Dotted configuration keys whose values are not the same in every run (name and
    /// description aside), in the configuration's order.
    public let differingKeys: [String]
    /// The differing keys that define a group: all but `seed`.
    public var groupingKeys: [String] { differingKeys.filter { $0 != "seed" } }
    /// In the order their first run appears.
    public let groups: [RunGroup]

    public init(snapshots: [RunSnapshot]) {
        let flat = snapshots.map { RunGrouping.flatten($0.config.tree) }
        let keys = flat.first?.map(\.0) ?? []
        let differing = keys.filter { k in
            k != "name" && k != "description" && Set(flat.map { f in f.first { $0.0 == k }?.1 ?? "" }).count > 1
        }
        differingKeys = differing
        let grouping = differing.filter { $0 != "seed" }
        var cells: [(key: [String], runs: [RunSnapshot], indices: [Int])] = []
        var cellOf: [[String]: Int] = [:]
        for (i, (s, f)) in zip(snapshots, flat).enumerated() {
            let k = grouping.map { key in f.first { $0.0 == key }?.1 ?? "" }
            if let c = cellOf[k] { cells[c].runs.append(s); cells[c].indices.append(i) } else {
                cellOf[k] = cells.count
                cells.append((k, [s], [i]))
            }
        }
        let labels = RunGrouping.labels(cells.map(\.runs), keys: grouping, values: cells.map(\.key))
        groups = zip(cells, labels).map { RunGroup(key: $0.key, label: $1, runs: $0.runs, indices: $0.indices) }
    }

    /// The same groups and labels over fresh snapshots of the same runs, in the same
    /// order (cheap: the configurations are not compared again).
    public func refreshed(with snapshots: [RunSnapshot]) -> RunGrouping {
        RunGrouping(differingKeys: differingKeys,
                    groups: groups.map { g in RunGroup(key: g.key, label: g.label, runs: g.indices.map { snapshots[$0] }, indices: g.indices) })
    }

    private init(differingKeys: [String], groups: [RunGroup]) {
        self.differingKeys = differingKeys
        self.groups = groups
    }

    /// The group `run` belongs to.
    public func group(of directory: String?) -> RunGroup? {
        groups.first { g in g.runs.contains { $0.directory == directory } }
    }

    static func flatten(_ v: ConfigValue, prefix: String = "") -> [(String, String)] {
        guard case .map(let entries) = v else { return [(prefix, v.description)] }
        return entries.flatMap { flatten($0.value, prefix: prefix.isEmpty ? $0.key : prefix + "." + $0.key) }
    }

    /// The value of a dotted key of a configuration, as text.
    public static func value(_ c: ExperimentConfig, _ key: String) -> String {
        flatten(c.tree).first { $0.0 == key }?.1 ?? ""
    }

    static func meanImagesPerSecond(_ s: RunSnapshot) -> Double {
        if let stored = s.storedMeanImagesPerSecond { return stored }
        let v = s.steps.map(\.imagesPerSecond).filter { $0.isFinite && $0 > 0 }
        return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count)
    }

    /// Common words made short in labels.
    static let abbreviations = ["fullPrecision": "fp", "hardTanh": "ht", "identity": "id"]

    /// Short labels: the group's run name without its seed suffix and without the prefix
    /// every group shares ("gradient-ablation-fullPrecision-adaptive" → "fp·adaptive").
    /// Labels that come out alike (or empty) get the grouping values that tell them apart
    /// (never "null"), and failing that their position.
    static func labels(_ groups: [[RunSnapshot]], keys: [String], values: [[String]]) -> [String] {
        func short(_ parts: [String]) -> String {
            parts.filter { !$0.isEmpty && $0 != "null" }.map { abbreviations[$0] ?? $0 }.joined(separator: "·")
        }
        let bases = groups.map { runs -> String in
            let s = runs[0]
            let suffix = "-s\(s.config.seed)"
            return s.config.name.hasSuffix(suffix) ? String(s.config.name.dropLast(suffix.count)) : s.config.name
        }
        if groups.count <= 1 { return bases }
        // The prefix shared by every base name, cut back to a "-" boundary.
        var prefix = bases.dropFirst().reduce(bases[0]) { p, b in String(zip(p, b).prefix { $0 == $1 }.map(\.0)) }
        if let dash = prefix.lastIndex(of: "-") { prefix = String(prefix[...dash]) } else { prefix = "" }
        var labels = bases.map { short($0.dropFirst(prefix.count).split(separator: "-").map(String.init)) }
        // Alike labels: add the values in which the alike groups differ.
        for label in Set(labels) where labels.filter({ $0 == label }).count > 1 || label.isEmpty {
            let same = labels.indices.filter { labels[$0] == label }
            let differing = keys.indices.filter { k in Set(same.map { values[$0][k] }).count > 1 }
            for i in same {
                let extra = short(differing.map { values[i][$0] })
                labels[i] = [label, extra].filter { !$0.isEmpty }.joined(separator: "·")
            }
        }
        for (i, l) in labels.enumerated() where l.isEmpty || labels.filter({ $0 == l }).count > 1 { labels[i] = (l.isEmpty ? "group" : l) + "·\(i + 1)" }
        return labels
    }
}
