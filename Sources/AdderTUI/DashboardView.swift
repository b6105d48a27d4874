import AdderTrain
import Foundation

/// Renders the dashboard state into a grid: a pure function, tested without a terminal.
public enum DashboardView {
    public static let minimumWidth = 60
    public static let minimumHeight = 18

    public static func render(_ state: DashboardState, width: Int, height: Int) -> Grid {
        var grid = Grid(width: width, height: height)
        let g = Glyphs(unicode: state.unicode)
        guard width >= minimumWidth, height >= minimumHeight else {
            let x = g.unicode ? "×" : "x"
            let lines = ["Terminal too small for AdderLab:", "\(width)\(x)\(height), needs at least \(minimumWidth)\(x)\(minimumHeight).",
                         "Enlarge the window, or press q to quit."]
            for (i, l) in lines.enumerated() where i < height {
                grid.put(max(0, (width - l.unicodeScalars.count) / 2), max(0, height / 2 - 1) + i, l, Style(bold: i == 0), maxWidth: width)
            }
            return grid
        }
        // Title bar.
        let training = state.runs.filter { $0.snapshot.state == .running || $0.snapshot.state == .starting }.count
        let paused = state.runs.filter { $0.snapshot.state == .paused }.count
        let queued = state.runs.filter { $0.snapshot.state == .queued }.count
        let dot = g.unicode ? "·" : "|"
        let groups = state.grouped ? state.rows.filter { if case .group = $0 { return true } else { return false } }.count : 0
        let shown = state.rowModel.shownRuns < state.runs.count ? " (\(state.rowModel.shownRuns) shown)" : ""
        let title = " AdderLab  \(state.runs.count) run\(state.runs.count == 1 ? "" : "s")\(shown)" + (groups > 0 ? " in \(groups) group\(groups == 1 ? "" : "s")" : "")
            + ", \(training) training" + (paused > 0 ? ", \(paused) paused" : "")
            + (queued > 0 ? ", \(queued) queued" : "")
            + "  \(dot)  n new run  ? help  q quit "
        grid.fill(Rect(x: 0, y: 0, width: width, height: 1), Cell(character: " ", style: Style(reverse: true)))
        grid.put(0, 0, title, Style(bold: true, reverse: true), maxWidth: width)

        // Runs panel, charts, layers panel, status line.
        let body = height - 2
        let heights = DashboardView.heights(body: body, runsWant: state.rows.count + 3, layersWant: LayersPanel.wantedHeight(state))
        let runsHeight = heights.runs, chartsHeight = heights.charts
        // A full-width view (summary, distributions, features, layers) takes the space of the
        // charts and the layers panel; otherwise both are shown.
        let wide: (any Widget)? = switch state.wideView {
        case .summary: SummaryPanel(state: state, glyphs: g)
        case .distributions(let settings): DistributionPanel(state: state, settings: settings, glyphs: g)
        case .features(let settings): FeatureSpacePanel(state: state, settings: settings, glyphs: g)
        case .layers(let settings): LayerHistoryPanel(state: state, settings: settings, glyphs: g)
        case nil: nil
        }
        let area = Rect(x: 0, y: 1, width: width, height: height - 1)
        if let wide {
            let parts = Layout.rows(area, [.fixed(runsHeight), .fill, .fixed(1)])
            RunsPanel(state: state, glyphs: g).render(into: &grid, area: parts[0])
            wide.render(into: &grid, area: parts[1])
            StatusLine(state: state, glyphs: g).render(into: &grid, area: parts[2])
        } else {
            let parts = Layout.rows(area, [.fixed(runsHeight), .fixed(chartsHeight), .fill, .fixed(1)])
            RunsPanel(state: state, glyphs: g).render(into: &grid, area: parts[0])
            ChartsPanel(state: state, glyphs: g).render(into: &grid, area: parts[1])
            LayersPanel(state: state, glyphs: g).render(into: &grid, area: parts[2])
            StatusLine(state: state, glyphs: g).render(into: &grid, area: parts[3])
        }

        let screen = Rect(x: 0, y: 0, width: width, height: height)
        switch state.overlay {
        case .none: break
        case .help: HelpDialog.dialog(g).render(into: &grid, area: screen)
        case .launcher(let form): LauncherDialog(form: form, state: state, glyphs: g).render(into: &grid, area: screen)
        case .confirmQuit(let n):
            let lines = ["\(n) run\(n == 1 ? " is" : "s are") still training.", "Stop \(n == 1 ? "it" : "them") (writing checkpoints) and quit?", "",
                         "y: stop and quit    n / Esc: keep training"]
            Dialog(title: "Quit AdderLab", lines: lines, glyphs: g).render(into: &grid, area: screen)
        }
        return grid
    }

    /// The heights of the runs panel, the charts and the layers panel in `body` rows: each
    /// panel its minimum (4, 7, 5: a run row, three rows of plot, a layer row), then the runs
    /// and layers up to a third each as their content wants, the charts up to two fifths, and
    /// what is left to the runs, then the layers, as their content wants, and last to the
    /// charts: no panel is given rows it would leave empty while another is cut.
    static func heights(body: Int, runsWant: Int, layersWant: Int) -> (runs: Int, charts: Int, layers: Int) {
        let runsMin = 4, chartsMin = 7, layersMin = 5
        var runs = min(max(runsWant, runsMin), max(runsMin, body / 3))
        var layers = min(max(layersWant, layersMin), max(layersMin, body / 3))
        var charts = body - runs - layers
        if charts < chartsMin {
            // Small terminals: the charts keep their minimum, the others give back rows.
            let short = chartsMin - charts
            let fromRuns = min(short, runs - runsMin)
            runs -= fromRuns
            layers -= min(short - fromRuns, layers - layersMin)
            charts = body - runs - layers
        }
        var spare = charts - max(chartsMin, body * 2 / 5)
        if spare > 0 {
            let toRuns = min(spare, max(0, runsWant - runs)); runs += toRuns; spare -= toRuns
            let toLayers = min(spare, max(0, layersWant - layers)); layers += toLayers
            charts = body - runs - layers
        }
        return (runs, charts, layers)
    }

    /// The help overlay's keys and what they do.
    public static var helpLines: [(String, String)] { HelpDialog.lines }
}
