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
        let live = state.runs.filter { $0.live && !$0.snapshot.state.isTerminal }.count
        let dot = g.unicode ? "·" : "|"
        let title = " AdderLab  \(state.runs.count) runs, \(live) training  \(dot)  n new run  ? help  q quit "
        grid.fill(Rect(x: 0, y: 0, width: width, height: 1), Cell(character: " ", style: Style(reverse: true)))
        grid.put(0, 0, title, Style(bold: true, reverse: true), maxWidth: width)

        // Split the height: runs panel, charts, layers panel, status line.
        let body = height - 2
        let runsHeight = min(max(5, state.runs.count + 3), max(5, body / 3))
        let rest = body - runsHeight
        let chartsHeight = max(8, rest * 11 / 20)
        let layersHeight = rest - chartsHeight
        drawRuns(&grid, Rect(x: 0, y: 1, width: width, height: runsHeight), state, g)
        drawCharts(&grid, Rect(x: 0, y: 1 + runsHeight, width: width, height: chartsHeight), state, g)
        drawLayers(&grid, Rect(x: 0, y: 1 + runsHeight + chartsHeight, width: width, height: layersHeight), state, g)
        drawStatus(&grid, width: width, y: height - 1, state, g)

        switch state.overlay {
        case .none: break
        case .help: drawHelp(&grid, state, g)
        case .launcher(let form): drawLauncher(&grid, form, state, g)
        case .confirmQuit(let n):
            let lines = ["\(n) run\(n == 1 ? " is" : "s are") still training.", "Stop \(n == 1 ? "it" : "them") (writing checkpoints) and quit?", "",
                         "y: stop and quit    n / Esc: keep training"]
            drawDialog(&grid, title: "Quit AdderLab", lines: lines, g)
        }
        return grid
    }

    // MARK: runs

    static func drawRuns(_ grid: inout Grid, _ r: Rect, _ state: DashboardState, _ g: Glyphs) {
        Widgets.box(&grid, r, title: "Runs (\(state.runsDirectory))", glyphs: g)
        let inner = r.inset(1)
        guard !state.runs.isEmpty else {
            grid.put(inner.x + 1, inner.y + 1, "No runs yet. Press n to launch an experiment from experiments/.", Style(dim: true), maxWidth: inner.width - 1)
            return
        }
        // Columns by priority; drop the least important when narrow.
        var columns: [(String, Int, (RunEntry) -> String)] = [
            ("state", 11, { $0.snapshot.state.rawValue + ($0.live ? "" : "*") }),
            ("progress", 14, { e in Widgets.progressBar(Double(e.snapshot.step) / Double(max(e.snapshot.totalSteps, 1)), width: 14, glyphs: g) }),
            ("best", -7, { $0.snapshot.bestAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-" }),
            ("mode", 10, { $0.snapshot.gradientMode.shortLabel }),
            ("type", 5, { $0.snapshot.config.layerKind }),
            ("epoch", -7, { e in String(format: "%.1f/%d", e.snapshot.epoch, e.snapshot.config.epochs) }),
            ("model", 9, { $0.snapshot.config.model.rawValue }),
            ("img/s", -6, { e in e.snapshot.imagesPerSecond > 0 ? String(format: "%.0f", e.snapshot.imagesPerSecond) : "-" }),
            ("ETA", -7, { e in e.snapshot.remainingSeconds.map(formatDuration) ?? "" }),
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
                if c.0 == "state" { st = stateStyle(e.snapshot.state, state.color) }
                x += grid.put(x, y, text, st, maxWidth: inner.maxX - x) + 1
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

    // MARK: charts

    static func drawCharts(_ grid: inout Grid, _ r: Rect, _ state: DashboardState, _ g: Glyphs) {
        let half = r.width / 2
        let left = Rect(x: r.x, y: r.y, width: half, height: r.height)
        let right = Rect(x: r.x + half, y: r.y, width: r.width - half, height: r.height)
        let runs = state.chartRuns
        let xName = state.xByEpoch ? "epoch" : "step"
        func x(_ step: Int, _ e: RunEntry) -> Double {
            state.xByEpoch ? Double(step) / Double(max(e.snapshot.stepsPerEpoch, 1)) : Double(step)
        }
        var markers: [LineChart.Marker] = []
        for (e, c) in runs {
            for ev in e.snapshot.events where [.gradientMode, .eta, .pause].contains(ev.kind) {
                let label = ev.kind == .gradientMode ? "g" : (ev.kind == .eta ? "e" : "p")
                markers.append(LineChart.Marker(x: x(ev.step, e), color: c, label: label))
            }
        }
        let smoothingText = state.smoothing > 0 ? String(format: " (EMA %.2f)", state.smoothing) : ""
        var loss = LineChart(title: "training loss" + smoothingText + (state.logScale ? " log" : ""), series: runs.map { e, c in
            let steps = downsample(e.snapshot.steps, to: max(64, left.width * 4))
            let ys = smoothed(steps.map(\.loss), weight: state.smoothing)
            return LineChart.Series(name: e.snapshot.config.name, color: c, points: zip(steps, ys).map { (x($0.step, e), $1) })
        })
        loss.logY = state.logScale
        loss.markers = markers
        loss.xLabel = xName
        Widgets.box(&grid, left, title: "", glyphs: g)
        loss.draw(into: &grid, left.inset(1), glyphs: g, color: state.color)
        var acc = LineChart(title: "test accuracy", series: runs.map { e, c in
            LineChart.Series(name: e.snapshot.config.name, color: c, points: e.snapshot.evals.map { (x($0.step, e), $0.testAccuracy) })
        })
        acc.markers = markers
        acc.xLabel = xName
        let accs = runs.flatMap { $0.0.snapshot.evals.map(\.testAccuracy) }
        if let lo = accs.min() { acc.yRange = max(0, (lo * 10).rounded(.down) / 10)...1 }
        Widgets.box(&grid, right, title: "", glyphs: g)
        acc.draw(into: &grid, right.inset(1), glyphs: g, color: state.color)
    }

    /// At most `n` step records, evenly spaced, always keeping the last.
    static func downsample(_ s: [StepRecord], to n: Int) -> [StepRecord] {
        guard s.count > n, n > 1 else { return s }
        return (0..<n).map { s[$0 * (s.count - 1) / (n - 1)] }
    }

    // MARK: layers

    static func drawLayers(_ grid: inout Grid, _ r: Rect, _ state: DashboardState, _ g: Glyphs) {
        guard r.height >= 3 else { return }
        guard let e = state.focused else { Widgets.box(&grid, r, title: "Layers", glyphs: g); return }
        let s = e.snapshot
        let dot = g.unicode ? "·" : "|"
        Widgets.box(&grid, r, title: "Layers of \(s.config.name) \(dot) \(g.eta)=\(String(format: "%g", s.eta)) \(dot) mode \(s.gradientMode.shortLabel)", glyphs: g)
        let inner = r.inset(1)
        guard let last = s.layers.last else {
            grid.put(inner.x + 1, inner.y, "no layer statistics yet", Style(dim: true), maxWidth: inner.width)
            return
        }
        let history = s.layers.suffix(400)
        func series(_ name: String, _ f: @escaping (LayerRecord.Layer) -> Double) -> [Double] {
            history.compactMap { rec in rec.layers.first { $0.name == name }.map(f) }
        }
        // Table on the left, heat strip of gradient norms on the right when wide enough.
        let stripWidth = inner.width >= 120 ? min(60, inner.width / 3) : 0
        let tableWidth = inner.width - (stripWidth > 0 ? stripWidth + 2 : 0)
        let spark = tableWidth >= 110 ? 16 : (tableWidth >= 90 ? 10 : 0)
        var cols: [(String, Int)] = [("layer", 16), ("type", 7), ("mode", 9), ("grad ‖g‖", -9)]
        if spark > 0 { cols.append(("", spark)) }
        cols += [("‖w‖", -8), (g.alpha, -9)]
        if spark > 0 { cols.append(("", spark)) }
        cols.append(("out std", -8))
        if !g.unicode { cols = cols.map { ($0.0.replacingOccurrences(of: "‖", with: "|"), $0.1) } }
        let rows: [[String]] = last.layers.map { l in
            var row = [l.name, l.type.replacingOccurrences(of: "Adder2d", with: "adder").replacingOccurrences(of: "Conv2d", with: "conv"),
                       l.gradientRules?.shortLabel ?? "", sci(l.gradNorm)]
            if spark > 0 { row.append(Widgets.sparkline(series(l.name, { $0.gradNorm }), width: spark, glyphs: g)) }
            row += [sci(l.weightNorm), l.type == "Adder2d" ? sci(l.alpha) : "1"]
            if spark > 0 { row.append(Widgets.sparkline(series(l.name, { $0.alpha }), width: spark, glyphs: g)) }
            row.append(sci(l.outputStd))
            return row
        }
        let driftLine: String? = s.evals.last.map { ev in
            let worst = ev.drift.max { $0.meanGap < $1.meanGap }
            return String(format: "BN: test acc %.2f%% with running stats, %.2f%% with batch stats", ev.testAccuracy * 100, ev.testAccuracyBatchStatistics * 100)
                + (worst.map { String(format: "; largest drift %@ (mean gap %.2f%@)", $0.name, $0.meanGap, g.unicode ? "σ" : " sd") } ?? "")
        }
        let tableRows = inner.height - (driftLine == nil ? 0 : 1)
        Widgets.table(&grid, Rect(x: inner.x, y: inner.y, width: tableWidth, height: tableRows), columns: cols, rows: rows, glyphs: g)
        if rows.count + 1 > tableRows, tableRows > 1 {
            grid.put(inner.x + tableWidth - 12, inner.y + tableRows - 1, " +\(rows.count + 1 - tableRows) more ", Style(dim: true))
        }
        if let driftLine { grid.put(inner.x, inner.maxY - 1, driftLine, Style(dim: true), maxWidth: tableWidth) }
        if stripWidth > 0 {
            let x0 = inner.maxX - stripWidth
            grid.put(x0, inner.y, "grad-norm heat (layer \(g.unicode ? "×" : "x") time)", Style(bold: true), maxWidth: stripWidth)
            let strip = Widgets.heatStrip(rows: last.layers.map { l in series(l.name, { $0.gradNorm }) }, width: stripWidth, glyphs: g)
            for (i, line) in strip.enumerated() where i + 1 < inner.height {
                grid.put(x0, inner.y + 1 + i, line, Style(state.color ? .yellow : nil))
            }
        }
    }

    static func sci(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : "inf" }
        let a = abs(v)
        if a != 0 && (a < 0.01 || a >= 10_000) { return String(format: "%.2e", v) }
        return String(format: "%.4g", v)
    }

    // MARK: status, help, dialogs

    static func drawStatus(_ grid: inout Grid, width: Int, y: Int, _ state: DashboardState, _ g: Glyphs) {
        let dot = g.unicode ? "·" : "|"
        let opts = String(format: "smoothing %.2f %@ %@ %@ x: %@ %@ %d compared", state.smoothing, dot, state.logScale ? "log" : "linear",
                          dot, state.xByEpoch ? "epoch" : "step", dot, state.compared.count)
        var message = state.message
        if !g.unicode { message = String(String.UnicodeScalarView(message.unicodeScalars.map { $0.isASCII ? $0 : "?" })) }
        let text = message.isEmpty ? opts : message + "  \(dot)  " + opts
        grid.put(0, y, Grid.fit(" " + text, width, unicode: g.unicode), Style(dim: state.message.isEmpty))
    }

    public static let helpLines: [(String, String)] = [
        ("↑ ↓ / Tab", "move the focus between runs"),
        ("Space", "pause / resume the focused run"),
        ("g", "flip the focused run's gradient mode: fp/ht ⇄ sign/sign"),
        ("e / E", "raise / lower η of the adaptive learning rate (×1.25)"),
        ("x", "stop the focused run (finishes the step, writes a checkpoint)"),
        ("c", "add / remove the focused run from the comparison overlay"),
        ("s / S", "more / less EMA smoothing of the loss"),
        ("l", "linear / log y axis for the loss"),
        ("a", "x axis by step / by epoch"),
        ("n or Enter", "open the launcher"),
        ("r", "re-read the runs directory"),
        ("?", "this help"),
        ("q", "quit (asks first while runs are training)"),
        ("", ""),
        ("modes", "fp = full-precision, ht = HardTanh, sign, id = identity"),
        ("markers", "g mode switch, e η change, p pause (in the run's colour)"),
        ("state*", "read from disk (trained elsewhere, not controllable)"),
    ]

    static func drawHelp(_ grid: inout Grid, _ state: DashboardState, _ g: Glyphs) {
        let lines = helpLines.map { k, v in Grid.fit(g.unicode ? k : asciiKey(k), 14, unicode: g.unicode) + " " + (g.unicode ? v : asciiKey(v)) }
        drawDialog(&grid, title: "Keys", lines: lines + ["", "any key closes this help"], g)
    }

    static func asciiKey(_ k: String) -> String {
        k.replacingOccurrences(of: "↑ ↓", with: "Up Down").replacingOccurrences(of: "⇄", with: "<->")
            .replacingOccurrences(of: "η", with: "eta").replacingOccurrences(of: "×", with: "x")
    }

    static func drawDialog(_ grid: inout Grid, title: String, lines: [String], _ g: Glyphs) {
        let w = min(grid.width - 4, max(title.count + 6, (lines.map { $0.unicodeScalars.count }.max() ?? 0) + 4))
        let h = min(grid.height - 2, lines.count + 2)
        let r = Rect(x: (grid.width - w) / 2, y: (grid.height - h) / 2, width: w, height: h)
        grid.fill(r)
        Widgets.box(&grid, r, title: title, glyphs: g, highlight: true)
        for (i, l) in lines.prefix(h - 2).enumerated() {
            grid.put(r.x + 2, r.y + 1 + i, g.unicode ? l : l.replacingOccurrences(of: "⇄", with: "<->"), .plain, maxWidth: w - 3)
        }
    }

    static func drawLauncher(_ grid: inout Grid, _ form: LauncherForm, _ state: DashboardState, _ g: Glyphs) {
        var lines: [(String, Style)] = []
        let exp = form.experiments.indices.contains(form.selected) ? form.experiments[form.selected] : nil
        let expText = exp.map { "\($0.name)  (\(form.selected + 1)/\(form.experiments.count))" } ?? "no experiments in experiments/"
        lines.append(((form.row == 0 ? g.focus : " ") + " experiment  " + (g.unicode ? "◀ " : "< ") + expText + (g.unicode ? " ▶" : " >"),
                      Style(bold: form.row == 0, reverse: form.row == 0)))
        lines.append(("   " + (exp?.description ?? ""), Style(dim: true)))
        lines.append(("", .plain))
        for (i, f) in form.fields.enumerated() {
            let on = form.row == i + 1
            let value = f.choices != nil ? (g.unicode ? "◀ \(f.value) ▶" : "< \(f.value) >") : f.value + (on ? "_" : "")
            lines.append(((on ? g.focus : " ") + " " + Grid.fit(f.label == "eta" ? g.eta : f.label, 13) + value + (f.changed ? "  (changed)" : ""),
                          Style(bold: on, reverse: on)))
        }
        lines.append(("", .plain))
        let onLaunch = form.row == form.launchRow
        lines.append(((onLaunch ? g.focus : " ") + " [ Launch ]", Style(state.color ? .green : nil, bold: true, reverse: onLaunch)))
        if let err = form.error {
            lines.append(("", .plain))
            for chunk in wrap(err, 64) { lines.append((chunk, Style(state.color ? .red : nil, bold: true))) }
        }
        lines.append(("", .plain))
        lines.append(("↑↓ move · ←→ choose · type numbers · Enter next/launch · Esc cancel", Style(dim: true)))
        let w = min(grid.width - 4, 72), h = min(grid.height - 2, lines.count + 2)
        let r = Rect(x: (grid.width - w) / 2, y: max(1, (grid.height - h) / 2), width: w, height: h)
        grid.fill(r)
        Widgets.box(&grid, r, title: "Launch a run", glyphs: g, highlight: true)
        for (i, (l, st)) in lines.prefix(h - 2).enumerated() {
            let text = g.unicode ? l : l.replacingOccurrences(of: "↑↓", with: "Up/Down").replacingOccurrences(of: "←→", with: "Left/Right")
            grid.put(r.x + 2, r.y + 1 + i, text, st, maxWidth: w - 4)
        }
    }

    static func wrap(_ s: String, _ width: Int) -> [String] {
        var out: [String] = [], line = ""
        for word in s.split(separator: " ") {
            if line.count + word.count + 1 > width, !line.isEmpty { out.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { out.append(line) }
        return out
    }
}
