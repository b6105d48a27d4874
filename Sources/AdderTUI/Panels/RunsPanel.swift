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
        // The view, the sort, the filter and the counts always show; a long runs
        // directory gives way from its start.
        let rest = g.text(") · \(view)\(shown)")
        let directory = Widgets.keepingEnd(g.text(state.runsDirectory), width: max(r.width - 6 - "Runs (".count - rest.count, 12), glyphs: g)
        Box.draw(&grid, r, title: "Runs (" + directory + rest, glyphs: g)
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
        // As wide as the longest state text shown (a mixed group's counts take more).
        let stateWidth = max(9, min(13, state.rows.map { row -> Int in
            switch row {
            case .group(let gr): return RunsPanel.states(gr.entries).count
            case .run(let e, _): return e.queuePosition.map { "queued \($0)".count } ?? e.snapshot.state.rawValue.count + (e.live ? 0 : 1)
            }
        }.max() ?? 9))
        // Wide enough for every mean ± std shown (never cut: "100.00±18.25" is 12).
        let spreadWidth = max(7, state.rows.map { row -> Int in
            guard case .group(let gr) = row else { return 0 }
            return max(spread(gr.group.bestAccuracy).count, spread(gr.group.finalAccuracy).count)
        }.max() ?? 0)
        func fraction(_ s: RunSnapshot) -> Double { Double(s.step) / Double(max(s.totalSteps, 1)) }
        // The configuration keys that differ among the listed runs, as `compare` shows them
        // (seed only in the flat list: a group holds several), headed by their last name.
        let grouping = model.grouping
        let keys = grouping.differingKeys.filter { state.grouped ? $0 != "seed" : true }.prefix(4)
        let keyColumns: [Column] = keys.map { key in
            let header = String(key.split(separator: ".").last ?? Substring(key))
            let gi = grouping.groupingKeys.firstIndex(of: key)
            func runValue(_ e: RunEntry) -> String { g.text(RunGrouping.value(e.snapshot.config, key)) }
            func groupValue(_ gr: GroupRow) -> String { gi.map { g.text(gr.group.key[$0]) } ?? "" }
            let widest = state.rows.map { row -> Int in
                switch row {
                case .run(let e, _): return runValue(e).count
                case .group(let gr): return groupValue(gr).count
                }
            }.max() ?? 0
            return (header, min(14, max(header.count, widest)), runValue, groupValue)
        }
        let allColumns: [Column] = [
            ("state", stateWidth, { e in e.queuePosition.map { "queued \($0)" } ?? e.snapshot.state.rawValue + (e.live ? "" : "*") },
             { RunsPanel.states($0.entries) }),
            ("progress", 10, { progress(fraction($0.snapshot)) },
             { progress($0.entries.map { fraction($0.snapshot) }.reduce(0, +) / Double(max($0.entries.count, 1))) }),
            ("best %", -spreadWidth, { percent($0.snapshot.bestAccuracy) }, { spread($0.group.bestAccuracy) }),
            ("final %", -spreadWidth, { percent($0.snapshot.finalAccuracy) }, { spread($0.group.finalAccuracy) }),
            ("mode", 10, { $0.snapshot.gradientMode.shortLabel },
             { Set($0.entries.map(\.snapshot.gradientMode.shortLabel)).count == 1 ? $0.entries[0].snapshot.gradientMode.shortLabel : "mixed" }),
            ("type", 5, { $0.snapshot.config.layerKind }, { $0.entries[0].snapshot.config.layerKind }),
            ("epoch", -7, { e in String(format: "%.1f/%d", e.snapshot.epoch, e.snapshot.config.epochs) },
             { gr in String(format: "%.1f/%d", gr.entries.map(\.snapshot.epoch).reduce(0, +) / Double(gr.entries.count), gr.entries[0].snapshot.config.epochs) }),
            ("model", 9, { $0.snapshot.config.model.rawValue }, { $0.entries[0].snapshot.config.model.rawValue }),
        ] + keyColumns + [
            ("img/s", -6, { e in e.snapshot.imagesPerSecond > 0 ? String(format: "%.0f", e.snapshot.imagesPerSecond) : "-" },
             { $0.group.imagesPerSecond > 0 ? String(format: "%.0f", $0.group.imagesPerSecond) : "-" }),
            ("ETA", -7, { e in e.snapshot.state == .paused ? "paused" : e.snapshot.remainingSeconds.map(formatDuration) ?? "" },
             { $0.entries.compactMap(\.snapshot.remainingSeconds).max().map(formatDuration) ?? "" }),
            ("started", 16, { RunsPanel.started($0) }, { $0.entries.map(RunsPanel.started).min() ?? "" }),
        ]
        // The name column takes what the longest name needs (up to 48), then columns drop
        // from the right; a name that still does not fit is replaced by its short label.
        func names(short: Bool) -> [String] {
            state.rows.map { row -> String in
                switch row {
                case .run(let e, let inGroup): return (inGroup ? "  " : "") + g.text(short ? (model.shortNames[e.id] ?? e.snapshot.config.name) : e.snapshot.config.name)
                case .group(let gr): return "▸ \(g.text(gr.group.label)) (\(gr.entries.count))"
                }
            }
        }
        let fullNames = names(short: false)
        let longest = min(48, max(12, fullNames.map { $0.count }.max() ?? 12))
        func used(_ cols: [Column]) -> Int { cols.reduce(0) { $0 + abs($1.width) + 1 } + 3 }
        var columns = allColumns
        while used(columns) + longest > inner.width && columns.count > 4 { columns.removeLast() }
        var nameWidth = max(12, min(longest, inner.width - used(columns)))
        // When one name does not fit, every run row uses its short label (one style per
        // list), and the name column shrinks to what those need, giving columns back.
        let shortNames = fullNames.contains { $0.count > nameWidth }
        if shortNames {
            nameWidth = max(12, min(nameWidth, names(short: true).map { $0.count }.max() ?? 12))
            columns = allColumns
            while used(columns) + nameWidth > inner.width && columns.count > 4 { columns.removeLast() }
        }
        // Keep the focused row visible; the frame says how many rows are above and below.
        let visible = inner.height - 1
        let first = max(0, min(state.focus - visible + 1, state.rows.count - visible))
        let below = state.rows.count - first - visible
        if below > 0 { grid.put(r.maxX - 14, r.maxY - 1, g.text(" ↓ \(below) more "), Style(bold: true)) }
        if first > 0 { grid.put(r.maxX - 14, r.y, g.text(" ↑ \(first) more "), Style(bold: true)) }
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
                let name = "\(arrow) \(g.text(gr.group.label)) (\(gr.entries.count))"
                x += grid.put(x, y, Grid.fit(name, nameWidth, unicode: g.unicode), Style(state.color ? color : nil, bold: true)) + 1
                for c in columns {
                    let st = c.name == "state" ? RunsPanel.stateStyle(RunsPanel.leadingState(gr.entries), state.color) : Style.plain
                    x += grid.put(x, y, Grid.fit(g.text(c.group(gr)), abs(c.width), unicode: g.unicode, alignRight: c.width < 0), st, maxWidth: inner.maxX - x) + 1
                }
            case .run(let e, let inGroup):
                let full = (inGroup ? "  " : "") + e.snapshot.config.name
                let name = !shortNames ? full : (inGroup ? "  " : "") + g.text(model.shortNames[e.id] ?? e.snapshot.config.name)
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

    /// "3 finished" when the runs agree, else counts with short state names, most first:
    /// "2 queu 1 run" (run, paus, fin, stop, div, fail, queu, strt, intr).
    static func states(_ entries: [RunEntry]) -> String {
        var counts: [(RunState, Int)] = []
        for e in entries {
            if let i = counts.firstIndex(where: { $0.0 == e.snapshot.state }) { counts[i].1 += 1 } else { counts.append((e.snapshot.state, 1)) }
        }
        if counts.count == 1 { return "\(counts[0].1) \(counts[0].0.rawValue)" }
        let short: [RunState: String] = [.running: "run", .paused: "paus", .finished: "fin", .stopped: "stop", .diverged: "div",
                                         .failed: "fail", .queued: "queu", .starting: "strt", .interrupted: "intr"]
        return counts.sorted { $0.1 > $1.1 }.map { "\($0.1) \(short[$0.0] ?? $0.0.rawValue)" }.joined(separator: " ")
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
