import AdderTrain
import Foundation

/// The runs panel: one row per run with its state, progress, best accuracy, mode, type,
/// epoch, model, speed and ETA; columns drop from the right when the terminal is narrow.
struct RunsPanel: Widget {
    let state: DashboardState
    let glyphs: Glyphs

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        Box.draw(&grid, r, title: "Runs (\(state.runsDirectory))", glyphs: g)
        let inner = r.inset(1)
        guard !state.runs.isEmpty else {
            grid.put(inner.x + 1, inner.y + 1, "No runs yet. Press n to launch an experiment from experiments/.", Style(dim: true), maxWidth: inner.width - 1)
            return
        }
        // Columns by priority; drop the least important when narrow.
        var columns: [(String, Int, (RunEntry) -> String)] = [
            ("state", 11, { e in e.queuePosition.map { "queued \($0)" } ?? e.snapshot.state.rawValue + (e.live ? "" : "*") }),
            ("progress", 14, { e in Widgets.progressBar(Double(e.snapshot.step) / Double(max(e.snapshot.totalSteps, 1)), width: 14, glyphs: g) }),
            ("best", -7, { $0.snapshot.bestAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }),
            ("mode", 10, { $0.snapshot.gradientMode.shortLabel }),
            ("type", 5, { $0.snapshot.config.layerKind }),
            ("epoch", -7, { e in String(format: "%.1f/%d", e.snapshot.epoch, e.snapshot.config.epochs) }),
            ("model", 9, { $0.snapshot.config.model.rawValue }),
            ("img/s", -6, { e in e.snapshot.imagesPerSecond > 0 ? String(format: "%.0f", e.snapshot.imagesPerSecond) : "-" }),
            ("ETA", -7, { e in e.snapshot.state == .paused ? "paused" : e.snapshot.remainingSeconds.map(formatDuration) ?? "" }),
        ]
        let nameMin = 12
        while columns.reduce(0, { $0 + abs($1.1) + 1 }) + nameMin + 3 > inner.width && columns.count > 3 { columns.removeLast() }
        let nameWidth = max(nameMin, min(36, inner.width - 3 - columns.reduce(0, { $0 + abs($1.1) + 1 })))
        // Keep the focused run visible.
        let visible = inner.height - 1
        let first = max(0, min(state.focus - visible + 1, state.runs.count - visible))
        let header = "   " + Grid.fit("run", nameWidth) + " " + columns.map { Grid.fit($0.0, abs($0.1), unicode: g.unicode, alignRight: $0.1 < 0) }.joined(separator: " ")
        grid.put(inner.x, inner.y, header, Style(bold: true), maxWidth: inner.width)
        for (row, i) in (first..<state.runs.count).prefix(visible).enumerated() {
            let e = state.runs[i]
            let focused = i == state.focus
            let compared = state.compared.contains(e.id)
            let color = state.color(for: e.id)
            let y = inner.y + 1 + row
            grid.put(inner.x, y, focused ? g.focus : " ", Style(bold: true))
            grid.put(inner.x + 1, y, compared ? g.bullet : " ", Style(state.color ? color : nil, bold: true))
            var x = inner.x + 3
            x += grid.put(x, y, Grid.fit(e.snapshot.config.name, nameWidth, unicode: g.unicode),
                          Style(state.color ? color : nil, bold: focused)) + 1
            for c in columns {
                let text = Grid.fit(c.2(e), abs(c.1), unicode: g.unicode, alignRight: c.1 < 0)
                var st = Style.plain
                if c.0 == "state" { st = RunsPanel.stateStyle(e.snapshot.state, state.color) }
                x += grid.put(x, y, text, st, maxWidth: inner.maxX - x) + 1
                // A failed run's reason takes the columns after its state.
                if c.0 == "state", e.snapshot.state == .failed, !e.snapshot.message.isEmpty {
                    grid.put(x, y, Grid.fit(e.snapshot.message, inner.maxX - x, unicode: g.unicode), Style(state.color ? .red : nil))
                    break
                }
            }
        }
    }

    static func stateStyle(_ s: RunState, _ color: Bool) -> Style {
        guard color else { return Style(bold: s == .running) }
        switch s {
        case .running: return Style(.green, bold: true)
        case .paused: return Style(.yellow, bold: true)
        case .finished: return Style(.cyan)
        case .diverged, .failed: return Style(.red, bold: true)
        default: return Style(dim: true)
        }
    }
}
