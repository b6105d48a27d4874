import AdderTrain
import Foundation

/// A braille line chart with a labelled y axis, x-axis labels, a legend in the series'
/// colours, optional log scale, and vertical markers (control events).
public struct LineChart: Widget {
    public struct Series: Sendable {
        public var name: String
        public var color: TermColor
        public var points: [(x: Double, y: Double)]
        /// The spread around the line (a group's lowest and highest run), drawn as a dotted
        /// area under it; empty for none.
        public var band: [(x: Double, lo: Double, hi: Double)]
        /// Without colour, this glyph marks the line at a few places and in the legend.
        public var glyph: Character?
        public init(name: String, color: TermColor, points: [(x: Double, y: Double)],
                    band: [(x: Double, lo: Double, hi: Double)] = [], glyph: Character? = nil) {
            self.name = name; self.color = color; self.points = points; self.band = band; self.glyph = glyph
        }
    }

    /// Glyphs that tell series apart without colour.
    public static let glyphsUnicode: [Character] = ["●", "○", "◆", "◇", "■", "□", "▲", "△", "★", "☆", "✚", "✖"]
    public static let glyphsASCII: [Character] = ["o", "*", "+", "x", "#", "@", "%", "&", "=", "$", "~", "^"]

    public struct Marker: Sendable {
        public var x: Double
        public var color: TermColor
        public var label: String
        public init(x: Double, color: TermColor, label: String) { self.x = x; self.color = color; self.label = label }
    }

    public var title: String
    public var series: [Series]
    public var markers: [Marker] = []
    public var logY = false
    public var xLabel = "step"
    /// Fixed y range (e.g. 0…1 for accuracy); nil fits the data.
    public var yRange: ClosedRange<Double>?
    /// Fixed x range (charts side by side share one, so that a step is the same column in
    /// both); nil fits the data.
    public var xRange: ClosedRange<Double>?
    /// y values are fractions shown as percent on the axis (accuracy).
    public var percent = false
    /// A vertical cursor at this fraction (0…1) of the x range; the legend then shows each
    /// series' value there (a band's spread too).
    public var cursor: Double?

    public var glyphs = Glyphs(unicode: true)
    /// Series in their colours; without, they differ by name only.
    public var color = true

    public init(title: String, series: [Series]) { self.title = title; self.series = series }

    /// Number formatting for axis labels: short and fixed-width friendly.
    static func label(_ v: Double) -> String {
        let a = abs(v)
        if a == 0 { return "0" }
        if !a.isFinite { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        if a >= 1e6 { return String(format: "%.0e", v) }
        if a >= 10_000 { return String(format: "%.0fk", v / 1000) }
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 1 { return String(format: "%.2g", v).count <= 4 ? String(format: "%.3g", v) : String(format: "%.1f", v) }
        if a >= 0.01 { return String(format: "%.3f", v) }
        return String(format: "%.0e", v)
    }

    public func render(into grid: inout Grid, area rect: Rect) {
        guard rect.width >= 16, rect.height >= 5 else {
            grid.put(rect.x, rect.y, Grid.fit(title + " (too small)", rect.width, unicode: glyphs.unicode))
            return
        }
        // Values are clamped to ±1e300 so that no span or step below overflows (a run
        // directory may hold anything); log scale shows positive values only.
        let transform: (Double) -> Double = logY ? { log10(max($0, 1e-300)) } : { $0 }
        func usable(_ p: (x: Double, y: Double)) -> Bool { p.x.isFinite && p.y.isFinite && (!logY || p.y > 0) }
        func clamp(_ v: Double) -> Double { min(max(v, -1e300), 1e300) }
        let all = (series.flatMap(\.points) + series.flatMap { $0.band.flatMap { [(x: $0.x, y: $0.lo), (x: $0.x, y: $0.hi)] } })
            .filter(usable).map { (x: clamp($0.x), y: clamp($0.y)) }
        // The cursor's x, in data units.
        var cursorX: Double?
        if let f = cursor, f.isFinite, let lo = xRange?.lowerBound ?? all.map(\.x).min(), let hi = xRange?.upperBound ?? all.map(\.x).max() {
            cursorX = lo + min(max(f, 0), 1) * (hi - lo)
        }
        func value(_ v: Double) -> String { percent ? String(format: "%.2f%%", v * 100) : LineChart.label(v) }
        // Title and legend on the first row (with the cursor: each series' value there).
        var col = rect.x + grid.put(rect.x, rect.y, title + (cursorX.map { " @ " + LineChart.label($0) } ?? ""), Style(bold: true), maxWidth: rect.width) + 2
        // Series told apart by glyph: all without colour, and those sharing a colour with another.
        var colorCount: [TermColor: Int] = [:]
        for s in series { colorCount[s.color, default: 0] += 1 }
        func marked(_ s: Series) -> Bool { s.glyph != nil && (!color || colorCount[s.color, default: 0] > 1) }
        for s in series where col < rect.maxX {
            var entry = (marked(s) ? String(s.glyph!) : glyphs.bullet) + s.name
            if let cx = cursorX {
                let v = s.points.last { $0.x <= cx && $0.y.isFinite }?.y
                let b = s.band.last { $0.x <= cx && $0.lo.isFinite && $0.hi.isFinite }
                entry += " " + (v.map(value) ?? "-") + (b.map { " (\(value($0.lo))–\(value($0.hi)))" } ?? "")
            }
            col += grid.put(col, rect.y, entry, Style(color ? s.color : nil), maxWidth: rect.maxX - col) + 1
        }
        let plotTop = rect.y + 1, plotHeight = rect.height - 2
        let axisWidth = 7
        let plotX = rect.x + axisWidth + 1, plotWidth = rect.width - axisWidth - 1
        // Axes.
        for y in plotTop..<(plotTop + plotHeight) { grid[plotX - 1, y] = Cell(character: glyphs.vertical, style: Style(dim: true)) }
        grid[plotX - 1, plotTop + plotHeight] = Cell(character: glyphs.axisCorner, style: Style(dim: true))
        for x in plotX..<rect.maxX { grid[x, plotTop + plotHeight] = Cell(character: glyphs.horizontal, style: Style(dim: true)) }
        guard !all.isEmpty else {
            grid.put(plotX + 1, plotTop + plotHeight / 2, "no data yet", Style(dim: true), maxWidth: plotWidth - 1)
            return
        }
        var xmin = all.map(\.x).min()!, xmax = all.map(\.x).max()!
        if let r = xRange, r.lowerBound.isFinite, r.upperBound.isFinite { xmin = clamp(r.lowerBound); xmax = clamp(r.upperBound) }
        // A single x (one evaluation, the first step): from 0 to it, not "156…157".
        if xmax <= xmin { if xmin > 0 { xmax = xmin; xmin = 0 } else { xmax = xmin + 1 } }
        var ymin: Double, ymax: Double
        if let r = yRange, !logY { ymin = r.lowerBound; ymax = r.upperBound } else {
            ymin = transform(all.map(\.y).min()!); ymax = transform(all.map(\.y).max()!)
        }
        // A flat series sits in the middle of its axis.
        if ymax - ymin < 1e-12 { let d = ymin == 0 ? 0.5 : abs(ymin) * 0.5; ymin -= d; ymax += d }
        let pad = (ymax - ymin) * 0.04
        if yRange == nil || logY {
            // Below zero only when the data is (a loss axis never shows −0.04).
            let lowest = ymin
            ymin -= pad; ymax += pad
            if !logY && lowest >= 0 { ymin = max(ymin, 0) }
        }
        // x labels: left and right ends alike, and the axis name in the middle.
        let xRow = rect.maxY - 1
        let ends = ChartAxis.endLabels(xmin, xmax, target: 4)
        grid.put(plotX, xRow, ends.lo, Style(dim: true))
        let right = ends.hi
        grid.put(rect.maxX - right.count, xRow, right, Style(dim: true))
        let name = xLabel
        grid.put(plotX + (plotWidth - name.count) / 2, xRow, name, Style(dim: true))

        var canvas = BrailleCanvas(columns: plotWidth, rows: plotHeight)
        /// The dot index of `t` (0…1, anything else clamped, NaN to 0) on an axis of `n` dots.
        func index(_ t: Double, _ n: Int) -> Int { t.isFinite ? Int((min(max(t, 0), 1) * Double(n - 1)).rounded()) : 0 }
        func dx(_ x: Double) -> Int { index((clamp(x) - xmin) / (xmax - xmin), canvas.dotWidth) }
        func dy(_ y: Double) -> Int { canvas.dotHeight - 1 - index((transform(clamp(y)) - ymin) / (ymax - ymin), canvas.dotHeight) }
        // Markers first, as dotted columns under the data.
        // y labels at round values inside the range, one format per axis (percent for accuracy),
        // at most one every other row.
        let target = max(2, min(5, plotHeight / 2))
        let axis = logY ? ChartAxis.logarithmic(within: pow(10, ymin), pow(10, ymax), target: target)
                        : ChartAxis.linear(within: ymin, ymax, target: target, scale: percent ? 100 : 1, suffix: percent ? "%" : "")
        var labelled: [Int] = []
        for t in axis.ticks {
            // The row its dots would be drawn in.
            guard (transform(t.value) - ymin) / (ymax - ymin) >= -1e-9, (transform(t.value) - ymin) / (ymax - ymin) <= 1 + 1e-9 else { continue }
            let row = plotTop + dy(t.value) / 4
            guard row >= plotTop, row < plotTop + plotHeight, !labelled.contains(where: { abs($0 - row) < 1 }) else { continue }
            labelled.append(row)
            grid.put(rect.x, row, Grid.fit(glyphs.text(t.label), axisWidth - 1, unicode: glyphs.unicode, alignRight: true), Style(dim: true))
            grid[plotX - 1, row] = Cell(character: glyphs.tick, style: Style(dim: true))
        }
        // Markers in one column, or next to a labelled one, share its label.
        var lastLabel: Int?
        for m in markers.sorted(by: { $0.x < $1.x }) where m.x >= xmin && m.x <= xmax {
            let c = plotX + min(dx(m.x) / 2, plotWidth - 1)
            for y in (plotTop + 1)..<(plotTop + plotHeight) {
                grid[c, y] = Cell(character: glyphs.marker, style: Style(color ? m.color : nil, bold: !color))
            }
            if lastLabel.map({ c - $0 > 1 }) ?? true {
                grid.put(c, plotTop, String(m.label.prefix(1)), Style(color ? m.color : nil, bold: true))
                lastLabel = c
            } else if c != lastLabel {
                grid[c, plotTop] = Cell(character: glyphs.marker, style: Style(color ? m.color : nil, bold: !color))
            }
        }
        // Bands first, as a checkered fill between their edges, then the lines over them.
        // Bands are sparser when several overlap, so the lines stay visible; in ASCII (where
        // a band and a line would both be '*') they are left out.
        let banded = series.filter { !$0.band.isEmpty }.count
        let density = banded <= 2 ? 2 : 4
        for s in series where glyphs.unicode {
            // Edges in dot coordinates, filled column by column between samples (linearly).
            let edges = s.band.filter { usable(($0.x, $0.lo)) && usable(($0.x, $0.hi)) }.map { (x: dx($0.x), top: dy($0.hi), bottom: dy($0.lo)) }
            for (i, e) in edges.enumerated() {
                let next = i + 1 < edges.count ? edges[i + 1] : e
                let span = max(next.x - e.x, 0)
                for x in e.x...(e.x + span) {
                    let t = span == 0 ? 0 : Double(x - e.x) / Double(span)
                    let top = Int((Double(e.top) + t * Double(next.top - e.top)).rounded())
                    let bottom = Int((Double(e.bottom) + t * Double(next.bottom - e.bottom)).rounded())
                    for y in min(top, bottom)...max(top, bottom) where (x + y) % density == 0 && (density == 2 || y % 2 == 0) {
                        canvas.set(x, y, color ? s.color : nil)
                    }
                }
            }
        }
        for s in series {
            let pts = s.points.filter(usable)
            var prev: (Int, Int)?
            for p in pts {
                let q = (dx(p.x), dy(p.y))
                if let prev { canvas.line(prev.0, prev.1, q.0, q.1, color ? s.color : nil) } else { canvas.set(q.0, q.1, color ? s.color : nil) }
                prev = q
            }
        }
        canvas.draw(into: &grid, x: plotX, y: plotTop, unicode: glyphs.unicode)
        if let cx = cursorX, cx >= xmin, cx <= xmax {
            let c = plotX + min(dx(cx) / 2, plotWidth - 1)
            for y in plotTop..<(plotTop + plotHeight) { grid[c, y] = Cell(character: glyphs.vertical, style: Style(bold: true)) }
        }
        // A series told apart by glyph carries it at a few places (staggered per series).
        do {
            for (k, s) in series.enumerated() where marked(s) {
                guard let glyph = s.glyph else { continue }
                let pts = s.points.filter(usable)
                guard !pts.isEmpty else { continue }
                for j in 0..<4 {
                    let p = pts[min(pts.count - 1, (pts.count - 1) * (2 * j + 1 + (k % 2)) / 9)]
                    grid.put(plotX + min(dx(p.x) / 2, plotWidth - 1), plotTop + min(dy(p.y) / 4, plotHeight - 1), String(glyph), Style(color ? s.color : nil, bold: true))
                }
            }
        }
    }
}

/// TensorBoard's exponential moving average with debiasing: with weight w,
/// m_i = w·m_{i−1} + (1 − w)·y_i, shown as m_i / (1 − w^(i+1)).
public func smoothed(_ values: [Double], weight: Double) -> [Double] {
    guard weight > 0 else { return values }
    var last = 0.0, n = 0
    return values.map { v in
        guard v.isFinite else { return v }
        last = last * weight + (1 - weight) * v
        n += 1
        return last / (1 - pow(weight, Double(n)))
    }
}
