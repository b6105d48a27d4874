import AdderTrain

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

/// What is drawn over the dashboard.
public enum Overlay: Sendable {
    case none
    case help
    case launcher(LauncherForm)
    case confirmQuit(live: Int)
}

/// Everything the dashboard shows; rendering is a pure function of it.
public struct DashboardState: Sendable {
    public var runs: [RunEntry] = []
    public var focus = 0
    /// Ids of runs overlaid in the charts (empty: the focused run alone).
    public var compared: Set<String> = []
    /// EMA weight for the loss chart, 0 (off) … 0.99.
    public var smoothing = 0.6
    public var logScale = false
    public var xByEpoch = false
    public var overlay: Overlay = .none
    public var message = ""
    public var unicode = true
    public var color = true
    public var runsDirectory = "runs"

    public init() {}

    public var focused: RunEntry? { runs.indices.contains(focus) ? runs[focus] : nil }

    /// The runs drawn in the charts.
    public var chartRuns: [(RunEntry, TermColor)] {
        let chosen = compared.isEmpty ? (focused.map { [$0] } ?? []) : runs.filter { compared.contains($0.id) }
        return chosen.map { ($0, color(for: $0.id)) }
    }

    static let palette: [TermColor] = [.cyan, .magenta, .yellow, .green, .blue, .red]

    /// A run's colour, stable while the list does not change.
    public func color(for id: String) -> TermColor {
        let i = runs.firstIndex { $0.id == id } ?? 0
        return DashboardState.palette[i % DashboardState.palette.count]
    }
}
