import Foundation

/// The table behind `adderlab compare`: one row per run, with the configuration keys
/// whose values differ between the runs, then the results.
public struct Comparison {
    public let snapshots: [RunSnapshot]
    /// Dotted configuration keys whose values are not the same in every run.
    public let differingKeys: [String]

    public init(snapshots: [RunSnapshot]) {
        self.snapshots = snapshots
        let flat = snapshots.map { Comparison.flatten($0.config.tree) }
        let keys = flat.first?.map(\.0) ?? []
        differingKeys = keys.filter { k in
            k != "name" && k != "description" && Set(flat.map { f in f.first { $0.0 == k }?.1 ?? "" }).count > 1
        }
    }

    static func flatten(_ v: ConfigValue, prefix: String = "") -> [(String, String)] {
        guard case .map(let entries) = v else { return [(prefix, v.description)] }
        return entries.flatMap { flatten($0.value, prefix: prefix.isEmpty ? $0.key : prefix + "." + $0.key) }
    }

    public var header: [String] {
        ["run"] + differingKeys + ["state", "best acc", "final acc", "final loss", "time", "img/s"]
    }

    func value(_ s: RunSnapshot, _ key: String) -> String { Comparison.value(s.config, key) }

    /// The value of a dotted key of a configuration, as text.
    static func value(_ c: ExperimentConfig, _ key: String) -> String {
        Comparison.flatten(c.tree).first { $0.0 == key }?.1 ?? ""
    }

    public var rows: [[String]] {
        snapshots.map { s in
            let best: String = s.bestAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-"
            let final: String = s.finalAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-"
            let loss: String = s.finalLoss.map { String(format: "%.4f", $0) } ?? "-"
            let results: [String] = [s.state.rawValue, best, final, loss, String(format: "%.0fs", s.elapsed),
                                     String(format: "%.0f", meanImagesPerSecond(s))]
            return [label(s)] + differingKeys.map { value(s, $0) } + results
        }
    }

    /// A run's name, or its directory's name when two runs share a name.
    func label(_ s: RunSnapshot) -> String {
        guard Set(snapshots.map(\.config.name)).count < snapshots.count, let d = s.directory else { return s.config.name }
        return (d as NSString).lastPathComponent
    }

    func meanImagesPerSecond(_ s: RunSnapshot) -> Double {
        let v = s.steps.map(\.imagesPerSecond).filter { $0.isFinite && $0 > 0 }
        return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count)
    }

    public func csv() -> String {
        func field(_ s: String) -> String { s.contains(where: { ",\"\n".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        return ([header] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n")
    }

    public func json() -> String {
        func number(_ d: Double?) -> JSON.Value { d.map { .number($0) } ?? .null }
        let items: [JSON.Value] = snapshots.map { s in
            var fields: [(String, JSON.Value)] = [("run", .string(s.config.name)), ("directory", s.directory.map { .string($0) } ?? .null)]
            fields += differingKeys.map { ($0, .string(value(s, $0))) }
            fields += [("state", .string(s.state.rawValue)), ("bestAccuracy", number(s.bestAccuracy)),
                       ("finalAccuracy", number(s.finalAccuracy)), ("finalLoss", number(s.finalLoss)),
                       ("seconds", .number(s.elapsed)), ("imagesPerSecond", .number(meanImagesPerSecond(s)))]
            return .object(fields)
        }
        return JSON.encode(.array(items))
    }

    /// Runs that differ only in their seed, grouped: the differing keys other than the
    /// seed, and the runs of each cell, in first-seen order.
    public var seedGroups: [(key: [String], runs: [RunSnapshot])] {
        let keys = differingKeys.filter { $0 != "seed" }
        var groups: [(key: [String], runs: [RunSnapshot])] = []
        for s in snapshots {
            let k = keys.map { value(s, $0) }
            if let i = groups.firstIndex(where: { $0.key == k }) { groups[i].runs.append(s) } else { groups.append((k, [s])) }
        }
        return groups
    }

    /// A Markdown table with one row per cell of runs that differ only in their seed:
    /// mean ± sample standard deviation of the final and best test accuracy over the seeds.
    public func markdown() -> String {
        let keys = differingKeys.filter { $0 != "seed" }
        let header = keys + ["runs", "final test accuracy", "best test accuracy", "final loss", "time per run"]
        func meanStd(_ v: [Double], percent: Bool) -> String {
            guard !v.isEmpty else { return "-" }
            let scale = percent ? 100.0 : 1.0
            let m = v.reduce(0, +) / Double(v.count)
            let fmt = percent ? "%.2f%%" : "%.4f"
            guard v.count > 1 else { return String(format: fmt, m * scale) }
            let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
            return String(format: percent ? "%.2f ± %.2f%%" : "%.4f ± %.4f", m * scale, sd * scale)
        }
        let rows = seedGroups.map { g -> [String] in
            let finished = g.runs.filter { $0.state == .finished }
            let time = g.runs.map(\.elapsed).reduce(0, +) / Double(g.runs.count)
            return g.key + ["\(finished.count)/\(g.runs.count)", meanStd(g.runs.compactMap(\.finalAccuracy), percent: true),
                            meanStd(g.runs.compactMap(\.bestAccuracy), percent: true), meanStd(g.runs.compactMap(\.finalLoss), percent: false),
                            String(format: "%.0f s", time)]
        }
        let h = "| " + header.joined(separator: " | ") + " |"
        let sep = "|" + header.map { _ in "---|" }.joined()
        return ([h, sep] + rows.map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
    }
}
