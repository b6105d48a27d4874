import AdderTUI
import Foundation

/// The repository's kept runs: `experiments/<name>`.
func keptRuns(_ name: String) -> String {
    "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/experiments/" + name
}

/// A dashboard on `runsDirectory`, every run directory in it read (`unicode` false: as
/// under LANG=C).
func readDashboard(_ runsDirectory: String, color: Bool = false, unicode: Bool = true) -> Dashboard {
    let d = Dashboard(runsDirectory: runsDirectory, experimentsDirectory: "/nonexistent", unicode: unicode, color: color)
    while d.isReading { d.refresh() }
    d.refresh()
    return d
}

/// The dashboard's screen at `width`×`height`, row by row.
func screenRows(_ d: Dashboard, _ width: Int, _ height: Int) -> [String] {
    let grid = DashboardView.render(d.state, width: width, height: height)
    return (0..<height).map { grid.row($0) }
}
