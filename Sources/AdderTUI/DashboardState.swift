import AdderTrain
import Foundation

/// A key press, decoded from the terminal.
public enum Key: Equatable, Sendable {
    case char(Character)
    case up, down, left, right, tab, backTab, enter, escape, backspace, resize
}

/// One row of the runs panel.
public struct RunEntry: Sendable {
    /// The run directory, or the run's name for an in-memory run.
    public var id: String
    public var snapshot: RunSnapshot
    /// Trained by this process (controllable) rather than read from disk.
    public var live: Bool
    /// Place in this process's queue (1 = next), for a queued run.
    public var queuePosition: Int?
    public init(id: String, snapshot: RunSnapshot, live: Bool, queuePosition: Int? = nil) {
        self.id = id; self.snapshot = snapshot; self.live = live; self.queuePosition = queuePosition
    }
}

/// One series of the charts: a run, or a group of runs drawn as its mean with a band.
public struct ChartItem: Sendable {
    public var id: String
    public var label: String
    public var entries: [RunEntry]
    public var isGroup: Bool
    public var color: TermColor

    /// The item's series from one curve per entry: a run's curve, or a group's mean with its
    /// min–max band. The same for every chart that draws compared items.
    func series(_ curves: [[(x: Double, y: Double)]], name: String, glyph: Character) -> LineChart.Series {
        guard isGroup else { return LineChart.Series(name: name, color: color, points: curves.first ?? [], glyph: glyph) }
        let agg = SeriesAggregation.aggregate(curves)
        return LineChart.Series(name: name, color: color, points: agg.map { ($0.x, $0.mean) }, band: agg.map { ($0.x, $0.lo, $0.hi) }, glyph: glyph)
    }
}

/// What is drawn over the dashboard.
public enum Overlay: Sendable {
    case none
    case help
    case launcher(LauncherForm)
    case confirmQuit(live: Int)
}

/// Everything the dashboard shows; rendering is a pure function of it.
public struct DashboardState: Sendable {
    /// Every run listed: read from disk, then trained, queued or refused here.
    public var runs: [RunEntry] = [] { didSet { updateRows() } }
    /// The accuracy chart also draws each run's accuracy with batch statistics (key B).
    public var batchStatisticsCurves = false
    /// Groups over seeds as one row each (the default), or every run on its own row.
    public var grouped = true { didSet { updateRows() } }
    /// Ids of the groups shown with their runs below them.
    public var expanded: Set<String> = [] { didSet { updateRows() } }
    public var sort = RunSort.listed { didSet { updateRows() } }
    /// A regular expression over name, differing values and state (empty: every run).
    public var filter = "" { didSet { updateRows() } }
    /// True while the filter is being typed.
    public var editingFilter = false
    /// The rows of the runs panel, made from the fields above.
    public private(set) var rowModel = RunRows()
    public var rows: [RunRow] { rowModel.rows }
    /// Index into `rows`.
    public var focus = 0
    /// Ids of runs and groups overlaid in the charts (empty: the focused row alone).
    public var compared: Set<String> = []
    /// What takes the place of the charts and layers panel, one at a time (nil: the usual view).
    public enum WideView: Sendable, Equatable {
        case summary
        case layers(LayerViewSettings)
        case distributions(DistributionViewSettings)
        case features(FeatureViewSettings)
    }
    public var wideView: WideView?
    /// The layer view (nil: not shown). Setting one replaces any other wide view; setting nil
    /// closes it if it is the one shown. The three below work alike.
    public var layerView: LayerViewSettings? {
        get { if case .layers(let s) = wideView { s } else { nil } }
        set { replaceWideView(newValue.map(WideView.layers), showing: layerView != nil) }
    }
    /// The weight-distribution view (nil: not shown).
    public var distributionView: DistributionViewSettings? {
        get { if case .distributions(let s) = wideView { s } else { nil } }
        set { replaceWideView(newValue.map(WideView.distributions), showing: distributionView != nil) }
    }
    /// The feature view (nil: not shown).
    public var featureView: FeatureViewSettings? {
        get { if case .features(let s) = wideView { s } else { nil } }
        set { replaceWideView(newValue.map(WideView.features), showing: featureView != nil) }
    }
    /// The summary table.
    public var summary: Bool {
        get { wideView == .summary }
        set { replaceWideView(newValue ? .summary : nil, showing: summary) }
    }
    /// Shows `view`; nil closes the wide view only when the one being set is shown.
    private mutating func replaceWideView(_ view: WideView?, showing: Bool) {
        if view != nil || showing { wideView = view }
    }
    /// Feature records of the runs the feature view shows, by run id (read from disk by
    /// the controller while the view is open).
    public var features: [String: RunFeatures] = [:]
    /// The charts' cursor, a fraction of the x range (nil: none).
    public var cursor: Double?
    /// The group the summary table's Δ column is relative to.
    public var baseline: String?
    /// EMA weight for the loss chart, 0 (off) … 0.99.
    public var smoothing = 0.6
    public var logScale = false
    public var xAxis = XAxis.step
    public var overlay: Overlay = .none
    public var message = ""
    public var unicode = true
    public var color = true
    /// 12 series colours instead of 6 (the slots are made anew when this is set).
    public var color256 = false {
        didSet { seriesColors = SeriesColors(slots: (color256 ? TermColor.series256 : TermColor.series8).count) }
    }
    /// Each run's and group's colour slot, kept once given (see `SeriesColors`): as many
    /// slots as the terminal has series colours, so that distinct slots are distinct colours.
    public var seriesColors = SeriesColors(slots: TermColor.series8.count)
    public var runsDirectory = "runs"

    public init() {}

    private mutating func updateRows() {
        rowModel.update(runs: runs, grouped: grouped, expanded: expanded, sort: sort, filter: filter)
    }

    public var focusedRow: RunRow? { rows.indices.contains(focus) ? rows[focus] : nil }

    /// The focused run (nil on a group row).
    public var focused: RunEntry? {
        if case .run(let e, _)? = focusedRow { return e }
        return nil
    }

    public var focusedGroup: GroupRow? {
        if case .group(let g)? = focusedRow { return g }
        return nil
    }

    /// Moves the focus to the row with `id`, or to the group row holding that run when its
    /// group is collapsed; false when neither is shown.
    @discardableResult
    public mutating func focus(on id: String) -> Bool {
        if let i = rows.firstIndex(where: { $0.id == id }) { focus = i; return true }
        if let i = rows.firstIndex(where: { if case .group(let g) = $0 { return g.entries.contains { $0.id == id } } else { return false } }) {
            focus = i
            return true
        }
        return false
    }

    /// What the charts draw: the compared runs and groups (in list order), or the focused
    /// row's run or group.
    public var chartItems: [ChartItem] {
        func groupItem(_ g: RunGroup) -> ChartItem {
            let id = RunRows.groupId(g)
            return ChartItem(id: id, label: g.label, entries: g.indices.map { runs[$0] }, isGroup: true, color: color(for: id))
        }
        func runItem(_ e: RunEntry) -> ChartItem {
            ChartItem(id: e.id, label: e.snapshot.config.name, entries: [e], isGroup: false, color: color(for: e.id))
        }
        if compared.isEmpty {
            switch focusedRow {
            case .run(let e, _)?: return [runItem(e)]
            case .group(let g)?: return [groupItem(g.group)]
            case nil: return []
            }
        }
        let groups = rowModel.grouping.groups.filter { compared.contains(RunRows.groupId($0)) }.map(groupItem)
        return groups + runs.filter { compared.contains($0.id) }.map(runItem)
    }

    /// The colour slot of an id (for glyphs without colour).
    public func slot(for id: String) -> Int {
        var slots = seriesColors
        return slots.slot(for: DashboardState.colorIdentity(id))
    }

    /// Gives colour slots to the rows shown that have none yet (in the order of their
    /// identities, not of the list, so sorting or reading order changes nothing); the slots
    /// given before never change.
    public mutating func assignColors() {
        for id in rows.map({ DashboardState.colorIdentity($0.id) }).sorted() { _ = seriesColors.slot(for: id) }
    }

    /// What a colour slot is given to: a group's identity, or a run directory's name (as
    /// `adderlab plot` names its series), so that figures and screen agree.
    static func colorIdentity(_ id: String) -> String {
        id.hasPrefix("group:") ? id : (id as NSString).lastPathComponent
    }

    /// The colour of a run or group: a function of its identity (its slot), never of its
    /// position in the list.
    public func color(for id: String) -> TermColor {
        var slots = seriesColors
        let slot = slots.slot(for: DashboardState.colorIdentity(id))
        let palette = color256 ? TermColor.series256 : TermColor.series8
        return palette[slot % palette.count]
    }
}

/// What the charts' x axis measures (key `a` cycles it).
public enum XAxis: String, Sendable, CaseIterable {
    case step, epoch
    /// Seconds of training since the run started, paused intervals left out.
    case time

    public var next: XAxis {
        let all = XAxis.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }

    public var label: String { self == .time ? "time (s)" : rawValue }
}

/// Maps a run's records to x: by step, epoch, or training time without its pauses.
public struct XMapper {
    let axis: XAxis
    let stepsPerEpoch: Double
    /// Paused intervals (start, end) in the run's time, from its pause and resume events.
    let pauses: [(Double, Double)]
    /// For records with a step only (layer records): the step records' (step, time), in order.
    let stepTimes: [(step: Int, time: Double)]

    public init(_ axis: XAxis, _ s: RunSnapshot, needsStepTimes: Bool = false) {
        self.axis = axis
        stepsPerEpoch = Double(max(s.stepsPerEpoch, 1))
        var pauses: [(Double, Double)] = []
        var open: Double?
        for e in s.events {
            if e.kind == .pause { open = open ?? e.time }
            if e.kind == .resume, let t = open { pauses.append((t, max(t, e.time))); open = nil }
        }
        if let t = open { pauses.append((t, .infinity)) }
        self.pauses = pauses
        stepTimes = axis == .time && needsStepTimes ? s.steps.map { ($0.step, $0.time) } : []
    }

    /// Training seconds at run time `t`: the paused part before it is left out.
    public func active(_ t: Double) -> Double {
        t - pauses.reduce(0) { sum, p in sum + max(0, min(t, p.1) - p.0) }
    }

    public func x(step: Int, time: Double?) -> Double {
        switch axis {
        case .step: return Double(step)
        case .epoch: return Double(step) / stepsPerEpoch
        case .time: return (time ?? timeOf(step)).map(active) ?? .nan
        }
    }

    /// The time of the last step record at or before `step` (step records may be thinned).
    public func timeOf(_ step: Int) -> Double? {
        var lo = 0, hi = stepTimes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if stepTimes[mid].step <= step { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 ? stepTimes[lo - 1].time : nil
    }
}
