import Foundation

/// The table behind `adderlab compare`: one row per run, with the configuration keys
/// whose values differ between the runs, then the results.
public struct Comparison {
    public let snapshots: [RunSnapshot]
    /// The differing keys and the groups over seeds (shared with the dashboard).
    public let grouping: RunGrouping
    /// Dotted configuration keys whose values are not the same in every run.
    public var differingKeys: [String] { grouping.differingKeys }

    public init(snapshots: [RunSnapshot]) {
        self.snapshots = snapshots
        grouping = RunGrouping(snapshots: snapshots)
    }

    public var header: [String] {
        ["run"] + differingKeys + ["state", "best acc", "final acc", "final loss", "time", "img/s"]
    }

    func value(_ s: RunSnapshot, _ key: String) -> String { RunGrouping.value(s.config, key) }

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

    func meanImagesPerSecond(_ s: RunSnapshot) -> Double { RunGrouping.meanImagesPerSecond(s) }

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
    public var seedGroups: [(key: [String], runs: [RunSnapshot])] { grouping.groups.map { ($0.key, $0.runs) } }

    /// A Markdown table with one row per cell of runs that differ only in their seed:
    /// mean ± sample standard deviation of the final and best test accuracy over the seeds.
    public func markdown() -> String {
        let header = grouping.groupingKeys + ["runs", "final test accuracy", "best test accuracy", "final loss", "time per run"]
        let rows = grouping.groups.map { g -> [String] in
            let finished = g.runs.filter { $0.state == .finished }
            return g.key + ["\(finished.count)/\(g.runs.count)", g.finalAccuracy?.text(percent: true) ?? "-",
                            g.bestAccuracy?.text(percent: true) ?? "-", g.finalLoss?.text(percent: false) ?? "-",
                            String(format: "%.0f s", g.meanSeconds)]
        }
        let h = "| " + header.joined(separator: " | ") + " |"
        let sep = "|" + header.map { _ in "---|" }.joined()
        return ([h, sep] + rows.map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
    }
}
