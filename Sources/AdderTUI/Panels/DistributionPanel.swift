import AdderTrain
import Foundation

/// What the distribution view shows: one layer's filter weights or its outputs.
public struct DistributionViewSettings: Sendable, Equatable {
    /// The layer shown (nil: the first the runs have).
    public var layer: String?
    /// The layer's outputs on the recorded step's batch instead of its filter weights.
    public var outputs = false
    public init() {}
}

/// The distribution view (key W, the paper's Fig. 3): for the focused run, or each compared
/// run and group side by side, the newest histogram of one layer's filter weights (or
/// outputs) as bars, with the fitted Laplace (solid) and Gaussian (dashed) densities drawn
/// over it, each fit's log-likelihood per value, and which fits better.
struct DistributionPanel: Widget {
    let state: DashboardState
    let settings: DistributionViewSettings
    let glyphs: Glyphs

    /// The narrowest column a run is given; more compared runs than fit are named as left out.
    static let columnWidth = 36

    /// The layers to choose from, in the model's order: those of the runs shown.
    static func layers(_ state: DashboardState) -> [String] {
        var names: [String] = []
        for item in state.chartItems {
            for l in item.entries.first?.snapshot.histograms?.layers ?? [] where !names.contains(l.name) { names.append(l.name) }
        }
        return names
    }

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        let dot = g.unicode ? "·" : "|"
        let what = settings.outputs ? "Output" : "Weight"
        Box.draw(&grid, r, title: g.text("\(what) distributions \(dot) v \(settings.outputs ? "weights" : "outputs") \(dot) ← → layer \(dot) W closes"), glyphs: g)
        let inner = r.inset(1)
        guard inner.width > 0, inner.height > 0 else { return }
        let items = state.chartItems.filter { !$0.entries.isEmpty }
        guard !items.isEmpty else {
            grid.put(inner.x + 1, inner.y, "no run selected", Style(dim: true), maxWidth: inner.width - 1)
            return
        }
        let names = DistributionPanel.layers(state)
        let layer = settings.layer.flatMap { names.contains($0) ? $0 : nil } ?? names.first
        let fit = max(1, (inner.width + 1) / (DistributionPanel.columnWidth + 1))
        let shown = Array(items.prefix(fit))
        let hidden = items.count - shown.count
        var area = inner
        if hidden > 0 {
            grid.put(inner.x, inner.maxY - 1, "+\(hidden) more compared run\(hidden == 1 ? "" : "s") not shown (a wider terminal shows them)",
                     Style(dim: true), maxWidth: inner.width)
            area.height -= 1
        }
        // Columns with a one-cell gap between them.
        var sizes: [Layout.Size] = []
        for i in shown.indices { sizes += i == 0 ? [.fill] : [.fixed(1), .fill] }
        let columns = Layout.columns(area, sizes).enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        for (item, column) in zip(shown, columns) {
            DistributionColumn(item: item, layer: layer, outputs: settings.outputs, color: state.color, glyphs: g).render(into: &grid, area: column)
        }
    }
}

/// One run's column of the distribution view: its name, the layer, the histogram with the
/// two fitted densities, and the fits in numbers; or why there is nothing to show.
struct DistributionColumn: Widget {
    let item: ChartItem
    let layer: String?
    let outputs: Bool
    let color: Bool
    let glyphs: Glyphs

    static let laplaceColor = TermColor.yellow
    static let gaussianColor = TermColor.cyan

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        guard r.width > 0, r.height > 0 else { return }
        let entry = item.entries[0]
        let s = entry.snapshot
        let name = item.isGroup && item.entries.count > 1 ? "\(item.label) (1 of \(item.entries.count): \(s.config.name))" : item.label
        grid.put(r.x, r.y, g.text(name), Style(color ? item.color : nil, bold: true), maxWidth: r.width)
        var lines: [(String, Style)] = []
        func say(_ text: String, _ style: Style = Style(dim: true)) {
            for l in LauncherDialog.wrap(g.text(text), r.width) { lines.append((l, style)) }
        }
        defer {
            for (i, l) in lines.enumerated() where r.y + 1 + i < r.maxY { grid.put(r.x, r.y + 1 + i, l.0, l.1, maxWidth: r.width) }
        }
        let problemStyle = Style(color ? .red : nil, bold: true)
        guard let record = s.histograms else {
            if let problem = s.histogramProblem { say(problem, problemStyle) }
            if s.config.histogramEvery == 0 {
                say("no histograms: this run records none (histogramEvery: 0)")
            } else if s.state.isTerminal {
                say("no histograms recorded in this run directory: AdderLab writes histograms.jsonl from this version on, so runs trained before have none")
            } else {
                say("no histograms yet: the first comes at step \(s.config.histogramEvery) (histogramEvery)")
            }
            return
        }
        guard let layer, let l = record.layers.first(where: { $0.name == layer }) else {
            say("no layer \(layer ?? "-") in this run (it has \(record.layers.map(\.name).joined(separator: ", ")))")
            return
        }
        let kind = l.type.replacingOccurrences(of: "Adder2d", with: "adder").replacingOccurrences(of: "Conv2d", with: "conv")
            .replacingOccurrences(of: "Linear", with: "linear")
        guard let h = outputs ? l.outputs : l.weights else {
            say("\(layer) \(kind): no output histogram at step \(record.step) (v shows the weights)")
            return
        }
        let dot = g.unicode ? "·" : "|"
        grid.put(r.x, r.y + 1, Grid.fit(g.text("\(layer) \(kind) \(outputs ? "outputs" : "weights") \(dot) \(r.width >= 48 ? "\(h.count) values" : "n=\(h.count)") \(dot) step \(record.step)"),
                                        r.width, unicode: g.unicode), .plain, maxWidth: r.width)
        // Below the chart: the two fits and the verdict (and a read problem, when there is one).
        var text: [(String, Style)] = []
        let f = h.fit
        func number(_ v: Double) -> String { v.isFinite ? String(format: "%.3g", v) : "-" }
        func ll(_ v: Double) -> String { v.isFinite ? String(format: "%+.3f", v) : "-" }
        let wide = r.width >= 48
        let solid = g.unicode ? "─" : "*", dashed = g.unicode ? "┄" : "o"
        text.append(("\(solid) Laplace  LL \(ll(f.laplaceLogLikelihood))/value  b \(number(f.scale))" + (wide ? "  median \(number(f.median))" : ""),
                     Style(color ? DistributionColumn.laplaceColor : nil)))
        text.append(("\(dashed) Gaussian LL \(ll(f.gaussianLogLikelihood))/value  \(g.unicode ? "σ" : "sd") \(number(f.standardDeviation))" + (wide ? "  mean \(number(f.mean))" : ""),
                     Style(color ? DistributionColumn.gaussianColor : nil)))
        if let better = f.better {
            text.append((String(format: "%@ fits better by %.3f nats/value", better.rawValue, f.margin), Style(bold: true)))
            if text.last!.0.count > r.width { text[text.count - 1].0 = String(format: "%@ better by %.3f nats/value", better.rawValue, f.margin) }
        } else {
            text.append(("no fit: the values are all equal", Style(dim: true)))
        }
        if let problem = s.histogramProblem { text.append((g.text(problem), problemStyle)) }
        let chartHeight = r.height - 2 - text.count
        let chart = Rect(x: r.x, y: r.y + 2, width: r.width, height: max(0, chartHeight))
        if chartHeight >= 3 { HistogramChart(histogram: h, color: color, glyphs: g).render(into: &grid, area: chart) }
        for (i, t) in text.enumerated() where chart.maxY + i < r.maxY {
            grid.put(r.x, chart.maxY + i, Grid.fit(t.0, r.width, unicode: g.unicode), t.1, maxWidth: r.width)
        }
    }
}

/// A histogram drawn as bars (block characters, eighths of a cell) over [min, max], the
/// fitted Laplace (solid) and Gaussian (dashed) densities drawn over it in braille, and the
/// range's ends (and 0, when inside) on the row below. Bars and curves share one density
/// scale; a curve's peak higher than 1.5× the highest bar is cut at the top.
struct HistogramChart: Widget {
    let histogram: Histogram
    let color: Bool
    let glyphs: Glyphs

    /// The density of each of `width` columns: the mean of the bins whose centres fall in
    /// it, or the bin under its centre when none does.
    static func columnDensities(_ h: Histogram, width: Int) -> [Double] {
        let bins = h.counts.count
        return (0..<width).map { c in
            let lo = Double(c) * Double(bins) / Double(width), hi = Double(c + 1) * Double(bins) / Double(width)
            let inside = (0..<bins).filter { Double($0) + 0.5 >= lo && Double($0) + 0.5 < hi }
            if inside.isEmpty { return h.density(min(bins - 1, Int((lo + hi) / 2))) }
            return inside.map(h.density).reduce(0, +) / Double(inside.count)
        }
    }

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        let h = histogram, f = h.fit
        let plotHeight = r.height - 1, w = r.width
        guard plotHeight >= 2, w >= 8 else { return }
        let bars = HistogramChart.columnDensities(h, width: w)
        let span = h.maximum - h.minimum
        /// The data value at dot column `x` of `2w` (its centre).
        func value(_ x: Int, of n: Int) -> Double { h.minimum + (Double(x) + 0.5) / Double(n) * span }
        let dots = 2 * w
        let laplace = (0..<dots).map { f.density(.laplace, at: value($0, of: dots)) }
        let gaussian = (0..<dots).map { f.density(.gaussian, at: value($0, of: dots)) }
        let barTop = bars.max() ?? 0
        let curveTop = (laplace + gaussian).filter(\.isFinite).max() ?? 0
        let top = max(barTop, min(curveTop, 1.5 * barTop)) * 1.05
        guard top > 0, top.isFinite else { return }
        // Bars, in eighths of a cell.
        let levels = g.sparkLevels
        for (c, d) in bars.enumerated() {
            let eighths = Int((d / top * Double(plotHeight * 8)).rounded())
            guard eighths > 0 else { continue }
            for row in 0..<plotHeight {
                let filled = eighths - row * 8
                guard filled > 0 else { break }
                let ch = filled >= 8 ? g.progressFull : levels[filled - 1]
                grid[r.x + c, r.y + plotHeight - 1 - row] = Cell(character: ch, style: Style(dim: true))
            }
        }
        // Curves: braille with Unicode (the Gaussian dashed), a character per column in ASCII.
        let laplaceStyle = Style(color ? DistributionColumn.laplaceColor : nil, bold: true)
        let gaussianStyle = Style(color ? DistributionColumn.gaussianColor : nil, bold: true)
        if g.unicode {
            var canvas = BrailleCanvas(columns: w, rows: plotHeight)
            func dy(_ d: Double) -> Int {
                let t = d.isFinite ? min(max(d / top, 0), 1) : 0
                return canvas.dotHeight - 1 - Int((t * Double(canvas.dotHeight - 1)).rounded())
            }
            for x in 0..<(dots - 1) where (x / 2) % 2 == 0 {
                canvas.line(x, dy(gaussian[x]), x + 1, dy(gaussian[x + 1]), color ? DistributionColumn.gaussianColor : nil)
            }
            for x in 0..<(dots - 1) {
                canvas.line(x, dy(laplace[x]), x + 1, dy(laplace[x + 1]), color ? DistributionColumn.laplaceColor : nil)
            }
            canvas.draw(into: &grid, x: r.x, y: r.y, unicode: true)
        } else {
            func row(_ d: Double) -> Int {
                let t = d.isFinite ? min(max(d / top, 0), 1) : 0
                return plotHeight - 1 - Int((t * Double(plotHeight - 1)).rounded())
            }
            for c in 0..<w {
                let x = (h.minimum + (Double(c) + 0.5) / Double(w) * span)
                grid[r.x + c, r.y + row(f.density(.gaussian, at: x))] = Cell(character: "o", style: gaussianStyle)
                grid[r.x + c, r.y + row(f.density(.laplace, at: x))] = Cell(character: "*", style: laplaceStyle)
            }
        }
        // The range's ends, and 0 where it falls inside with room around it.
        let axis = r.maxY - 1
        let lo = LineChart.label(h.minimum), hi = LineChart.label(h.maximum)
        grid.put(r.x, axis, lo, Style(dim: true))
        grid.put(r.maxX - hi.count, axis, hi, Style(dim: true))
        if h.minimum < 0, h.maximum > 0 {
            let c = Int((-h.minimum / span * Double(w)).rounded(.down))
            if c > lo.count + 1, c < w - hi.count - 2 {
                grid.put(r.x + c, axis, "0", Style(dim: true))
            }
        }
    }
}
