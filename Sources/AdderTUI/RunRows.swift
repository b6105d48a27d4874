import AdderTrain
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A group of runs that differ only in their seed, as the runs panel shows it.
public struct GroupRow: Sendable {
    /// "group:" and the grouping values: stable while the group's runs are listed.
    public var id: String
    public var group: RunGroup
    /// The group's runs as listed (after the filter).
    public var entries: [RunEntry]
    public var expanded: Bool
}

/// One row of the runs panel: a run, or a group of runs over seeds.
public enum RunRow: Sendable {
    case run(RunEntry, inGroup: Bool)
    case group(GroupRow)

    public var id: String {
        switch self {
        case .run(let e, _): return e.id
        case .group(let g): return g.id
        }
    }
}

/// The orders the runs panel cycles through (key `o`).
public enum RunSort: String, Sendable, CaseIterable {
    case listed = "as listed"
    case bestAccuracy = "best accuracy"
    case finalAccuracy = "final accuracy"
    case name
    case startTime = "start time"
    case state
    case imagesPerSecond = "img/s"

    public var next: RunSort {
        let all = RunSort.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }
}

/// The rows of the runs panel: grouped or flat, filtered and sorted. A pure function of
/// the runs and the view settings, built once per change (not per frame drawn).
public struct RunRows: Sendable {
    public private(set) var rows: [RunRow] = []
    /// Runs that pass the filter.
    public private(set) var shownRuns = 0
    /// The groups of all listed runs (the filter and sort do not change them).
    public private(set) var grouping = RunGrouping(snapshots: [])
    /// Ids of the runs the grouping was made for: while they stay the same, the grouping
    /// is refreshed with new snapshots instead of compared again.
    private var groupedIds: [String] = []
    /// Short names of runs (by id) from what differs: "fp·adaptive·s1" for a run of a group,
    /// the group's label for a run alone; for rows too narrow for the full name.
    public private(set) var shortNames: [String: String] = [:]
    /// Set when the filter is not a valid regular expression (it is then matched as text).
    public private(set) var filterProblem: String?

    public init() {}

    static func groupId(_ g: RunGroup) -> String { g.identity }

    /// The start time in a run directory's name ("…-20261129-094137"), or "".
    static func startTime(_ e: RunEntry) -> String {
        let name = ((e.snapshot.directory ?? e.id) as NSString).lastPathComponent
        let parts = name.split(separator: "-")
        for i in stride(from: parts.count - 2, through: 0, by: -1) where i + 1 < parts.count {
            if parts[i].count == 8, parts[i + 1].count == 6, parts[i].allSatisfy(\.isNumber), parts[i + 1].allSatisfy(\.isNumber) {
                return "\(parts[i])-\(parts[i + 1])"
            }
        }
        return ""
    }

    public mutating func update(runs: [RunEntry], grouped: Bool, expanded: Set<String>, sort: RunSort, filter: String) {
        let ids = runs.map(\.id)
        if ids != groupedIds {
            grouping = RunGrouping(snapshots: runs.map(\.snapshot))
            groupedIds = ids
            shortNames = [:]
            for g in grouping.groups {
                for i in g.indices {
                    shortNames[runs[i].id] = g.indices.count > 1 ? g.label + "·s\(runs[i].snapshot.config.seed)" : g.label
                }
            }
        } else {
            grouping = grouping.refreshed(with: runs.map(\.snapshot))
        }
        // The filter: a case-insensitive regular expression over the name, the differing
        // values and the state; text that is not one is looked for as it is.
        var passes = Array(repeating: true, count: runs.count)
        filterProblem = nil
        if !filter.isEmpty {
            let regex = FilterPattern(filter)
            if regex == nil { filterProblem = "not a regular expression; matched as text" }
            for (i, e) in runs.enumerated() {
                let text = ([e.snapshot.config.name, shortNames[e.id] ?? "", e.snapshot.state.rawValue]
                            + grouping.differingKeys.map { RunGrouping.value(e.snapshot.config, $0) }).joined(separator: " ")
                passes[i] = regex?.matches(text) ?? text.localizedCaseInsensitiveContains(filter)
            }
        }
        shownRuns = passes.filter { $0 }.count
        func sorted(_ entries: [RunEntry]) -> [RunEntry] { RunRows.sorted(entries, by: sort) }
        guard grouped else {
            rows = sorted(zip(runs, passes).filter(\.1).map(\.0)).map { .run($0, inGroup: false) }
            return
        }
        // Groups of two or more runs are one row (their runs below when expanded); a run
        // alone is its own row. Units are sorted by the group's statistics or the run's.
        var units: [(key: RunEntry, rows: [RunRow], group: RunGroup?)] = []
        for g in grouping.groups {
            let members = g.indices.filter { passes[$0] }.map { runs[$0] }
            guard !members.isEmpty else { continue }
            if g.indices.count < 2 {
                units.append((members[0], [.run(members[0], inGroup: false)], nil))
                continue
            }
            let id = RunRows.groupId(g)
            let open = expanded.contains(id)
            let row = GroupRow(id: id, group: g, entries: members, expanded: open)
            let inner = open ? sorted(members).map { RunRow.run($0, inGroup: true) } : []
            // A stand-in entry carrying the group's statistics, for sorting.
            var standIn = members[0]
            standIn.snapshot.config.name = g.label
            units.append((standIn, [.group(row)] + inner, g))
        }
        let order = RunRows.sortedIndices(units.map(\.key), groups: units.map(\.group), by: sort)
        rows = order.flatMap { units[$0].rows }
    }

    static func sorted(_ entries: [RunEntry], by sort: RunSort) -> [RunEntry] {
        sortedIndices(entries, groups: entries.map { _ in nil }, by: sort).map { entries[$0] }
    }

    /// Positions in sorted order (stable: ties keep the listed order). Accuracy and speed
    /// sort high to low; missing values last.
    static func sortedIndices(_ entries: [RunEntry], groups: [RunGroup?], by sort: RunSort) -> [Int] {
        func number(_ i: Int) -> Double? {
            let s = entries[i].snapshot
            switch (sort, groups[i]) {
            case (.bestAccuracy, let g?): return g.bestAccuracy?.mean
            case (.bestAccuracy, nil): return s.bestAccuracy
            case (.finalAccuracy, let g?): return g.finalAccuracy?.mean
            case (.finalAccuracy, nil): return s.finalAccuracy
            case (.imagesPerSecond, let g?): return g.imagesPerSecond
            case (.imagesPerSecond, nil): return s.imagesPerSecond
            default: return nil
            }
        }
        func text(_ i: Int) -> String {
            switch sort {
            case .name: return entries[i].snapshot.config.name
            case .startTime: return startTime(entries[i])
            case .state: return entries[i].snapshot.state.rawValue
            default: return ""
            }
        }
        let idx = Array(entries.indices)
        switch sort {
        case .listed: return idx
        case .bestAccuracy, .finalAccuracy, .imagesPerSecond:
            return idx.map { ($0, number($0)) }.sorted { a, b in
                switch (a.1, b.1) {
                case let (x?, y?) where x != y: return x > y
                case (.some, nil): return true
                case (nil, .some): return false
                default: return a.0 < b.0
                }
            }.map(\.0)
        case .name, .startTime, .state:
            return idx.map { ($0, text($0)) }.sorted { a, b in a.1 != b.1 ? a.1 < b.1 : a.0 < b.0 }.map(\.0)
        }
    }
}

/// The runs filter: a POSIX extended regular expression, case-insensitive, matched by the C
/// library's matcher, which has no backtracking blow-up — Swift's `Regex` spun for good on a
/// typed pattern like `(.*)*(.*)*z`, freezing the screen.
final class FilterPattern {
    private var compiled = regex_t()
    private var isCompiled = false

    /// nil when `pattern` is not a valid extended regular expression.
    init?(_ pattern: String) {
        guard regcomp(&compiled, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0 else { return nil }
        isCompiled = true
    }

    deinit { if isCompiled { regfree(&compiled) } }

    func matches(_ text: String) -> Bool { regexec(&compiled, text, 0, nil, 0) == 0 }
}
