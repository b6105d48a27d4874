import AdderTrain
import Foundation

/// The runs panel: one row per run, or per group of runs over seeds (mean ± std of their
/// accuracies, their states), with state, progress, best and final accuracy, mode, type,
/// epoch, model, speed and ETA; columns drop from the right when the terminal is narrow.
struct RunsPanel: Widget {
    let state: DashboardState
    let glyphs: Glyphs

    /// A column: header, width (negative: right-aligned), and its text for a run or a group.
    typealias Column = (name: String, width: Int, run: (RunEntry) -> String, group: (GroupRow) -> String)

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        let model = state.rowModel
        let shown = model.shownRuns < state.runs.count ? ", \(model.shownRuns) of \(state.runs.count) shown" : ""
        let view = (state.grouped ? "grouped" : "flat") + (state.sort == .listed ? "" : ", by \(state.sort.rawValue)")
            + (state.filter.isEmpty ? "" : ", /\(state.filter)")
        Box.draw(&grid, r, title: g.text("Runs (\(state.runsDirectory)) · \(view)\(shown)"), glyphs: g)
        let inner = r.inset(1)
        guard !state.rows.isEmpty else {
            let text = state.runs.isEmpty ? "No runs yet. Press n to launch an experiment from experiments/."
                                          : "No run matches the filter /\(state.filter). Esc clears it."
            grid.put(inner.x + 1, inner.y + 1, text, Style(dim: true), maxWidth: inner.width - 1)
            return
        }
        let pm = g.unicode ? "±" : "+-"
        func percent(_ v: Double?) -> String { v.map { String(format: "%.2f", $0 * 100) } ?? "-" }
        func spread(_ m: MeanStd?) -> String {
            guard let m else { return "-" }
            return String(format: "%.2f", m.mean * 100) + (m.std.map { pm + String(format: "%.2f", $0 * 100) } ?? "")
        }
        func progress(_ f: Double) -> String { Widgets.progressBar(f, width: 10, glyphs: g) }
        func fraction(_ s: RunSnapshot) -> Double { Double(s.step) / Double(max(s.totalSteps, 1)) }
        var columns: [Column] = [
            ("state", 11, { e in e.queuePosition.map { "queued \($0)" } ?? e.snapshot.state.rawValue + (e.live ? "" : "*") },
             { RunsPanel.states($0.entries) }),
            ("progress", 10, { progress(fraction($0.snapshot)) },
             { progress($0.entries.map { fraction($0.snapshot) }.reduce(0, +) / Double(max($0.entries.count, 1))) }),
            ("best %", -10, { percent($0.snapshot.bestAccuracy) }, { spread($0.group.bestAccuracy) }),
            ("final %", -10, { percent($0.snapshot.finalAccuracy) }, { spread($0.group.finalAccuracy) }),
            ("mode", 10, { $0.snapshot.gradientMode.shortLabel },
             { Set($0.entries.map(\.snapshot.gradientMode.shortLabel)).count == 1 ? $0.entries[0].snapshot.gradientMode.shortLabel : "mixed" }),
            ("type", 5, { $0.snapshot.config.layerKind }, { $0.entries[0].snapshot.config.layerKind }),
            ("epoch", -7, { e in String(format: "%.1f/%d", e.snapshot.epoch, e.snapshot.config.epochs) },
             { gr in String(format: "%.1f/%d", gr.entries.map(\.snapshot.epoch).reduce(0, +) / Double(gr.entries.count), gr.entries[0].snapshot.config.epochs) }),
            ("model", 9, { $0.snapshot.config.model.rawValue }, { $0.entries[0].snapshot.config.model.rawValue }),
            ("img/s", -6, { e in e.snapshot.imagesPerSecond > 0 ? String(format: "%.0f", e.snapshot.imagesPerSecond) : "-" },
             { $0.group.imagesPerSecond > 0 ? String(format: "%.0f", $0.group.imagesPerSecond) : "-" }),
            ("ETA", -7, { e in e.snapshot.state == .paused ? "paused" : e.snapshot.remainingSeconds.map(formatDuration) ?? "" },
             { $0.entries.compactMap(\.snapshot.remainingSeconds).max().map(formatDuration) ?? "" }),
            ("started", 16, { RunsPanel.started($0) }, { $0.entries.map(RunsPanel.started).min() ?? "" }),
        ]
        // The name column takes what the longest name needs (up to 48), then columns drop
        // from the right; a name that still does not fit is replaced by its short label.
        let names = state.rows.map { row -> String in
            switch row {
            case .run(let e, let inGroup): return (inGroup ? "  " : "") + e.snapshot.config.name
            case .group(let gr): return "▸ \(gr.group.label) (\(gr.entries.count))"
            }
        }
        let longest = min(48, max(12, names.map { $0.count }.max() ?? 12))
        func used(_ cols: [Column]) -> Int { cols.reduce(0) { $0 + abs($1.width) + 1 } + 3 }
        while used(columns) + longest > inner.width && columns.count > 4 { columns.removeLast() }
        let nameWidth = max(12, min(longest, inner.width - used(columns)))
        // When one name does not fit, every run row uses its short label (one style per list).
        let shortNames = names.contains { $0.count > nameWidth }
        // Keep the focused row visible.
        let visible = inner.height - 1
        let first = max(0, min(state.focus - visible + 1, state.rows.count - visible))
        let header = "   " + Grid.fit(state.grouped ? "group / run" : "run", nameWidth) + " "
            + columns.map { Grid.fit($0.name, abs($0.width), unicode: g.unicode, alignRight: $0.width < 0) }.joined(separator: " ")
        grid.put(inner.x, inner.y, header, Style(bold: true), maxWidth: inner.width)
        for (line, i) in (first..<state.rows.count).prefix(visible).enumerated() {
            let row = state.rows[i]
            let focused = i == state.focus
            let compared = state.compared.contains(row.id)
            let color = state.color(for: row.id)
            let y = inner.y + 1 + line
            grid.put(inner.x, y, focused ? g.focus : " ", Style(bold: true))
            grid.put(inner.x + 1, y, compared ? g.bullet : " ", Style(state.color ? color : nil, bold: true))
            var x = inner.x + 3
            switch row {
            case .group(let gr):
                let arrow = gr.expanded ? (g.unicode ? "▾" : "v") : (g.unicode ? "▸" : ">")
                let name = "\(arrow) \(gr.group.label) (\(gr.entries.count))"
                x += grid.put(x, y, Grid.fit(name, nameWidth, unicode: g.unicode), Style(state.color ? color : nil, bold: true)) + 1
                for c in columns {
                    let st = c.name == "state" ? RunsPanel.stateStyle(RunsPanel.leadingState(gr.entries), state.color) : Style.plain
                    x += grid.put(x, y, Grid.fit(g.text(c.group(gr)), abs(c.width), unicode: g.unicode, alignRight: c.width < 0), st, maxWidth: inner.maxX - x) + 1
                }
            case .run(let e, let inGroup):
                let full = (inGroup ? "  " : "") + e.snapshot.config.name
                let name = !shortNames ? full : (inGroup ? "  " : "") + (model.shortNames[e.id] ?? e.snapshot.config.name)
                x += grid.put(x, y, Grid.fit(name, nameWidth, unicode: g.unicode), Style(state.color ? color : nil, bold: focused)) + 1
                for c in columns {
                    let text = Grid.fit(c.run(e), abs(c.width), unicode: g.unicode, alignRight: c.width < 0)
                    let st = c.name == "state" ? RunsPanel.stateStyle(e.snapshot.state, state.color) : Style.plain
                    x += grid.put(x, y, text, st, maxWidth: inner.maxX - x) + 1
                    // A failed run's reason takes the columns after its state.
                    if c.name == "state", e.snapshot.state == .failed, !e.snapshot.message.isEmpty {
                        grid.put(x, y, Grid.fit(e.snapshot.message, inner.maxX - x, unicode: g.unicode), Style(state.color ? .red : nil))
                        break
                    }
                }
            }
        }
    }

    /// "2026-11-29 09:41" from the run directory's name, or "".
    static func started(_ e: RunEntry) -> String {
        let t = RunRows.startTime(e)
        guard t.count == 15 else { return "" }
        let c = Array(t)
        return "\(String(c[0..<4]))-\(String(c[4..<6]))-\(String(c[6..<8])) \(String(c[9..<11])):\(String(c[11..<13]))"
    }

    /// The state most of a group's runs are in, for its colour.
    static func leadingState(_ entries: [RunEntry]) -> RunState {
        var counts: [RunState: Int] = [:]
        for e in entries { counts[e.snapshot.state, default: 0] += 1 }
        return counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key.rawValue > $1.key.rawValue }?.key ?? .finished
    }

    /// "3 finished", or "2 running+1" when the states differ.
    static func states(_ entries: [RunEntry]) -> String {
        let lead = leadingState(entries)
        let n = entries.filter { $0.snapshot.state == lead }.count
        return "\(n) \(lead.rawValue)" + (n < entries.count ? "+\(entries.count - n)" : "")
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
