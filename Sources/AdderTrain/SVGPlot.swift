import Foundation

/// One curve of an `SVGPlot`: a line, and optionally a band (min–max over seeds) under it.
public struct PlotSeries: Sendable {
    public var name: String
    /// "#rrggbb" or "#rgb"; anything else is drawn black.
    public var color: String
    /// In drawing order; a non-finite point breaks the line there.
    public var points: [(x: Double, y: Double)]
    /// Empty when there is none.
    public var band: [(x: Double, lo: Double, hi: Double)]
    /// An SVG stroke-dasharray ("6 3"), or nil for a solid line.
    public var dash: String?

    public init(name: String, color: String, points: [(x: Double, y: Double)],
                band: [(x: Double, lo: Double, hi: Double)] = [], dash: String? = nil) {
        self.name = name; self.color = color; self.points = points; self.band = band; self.dash = dash
    }
}

/// A line chart as a standalone SVG 1.1 document: frame, axes with round ticks, axis
/// labels, title, a legend, and each series as `<g class="series" data-name="…">` holding
/// its band (a filled path) and its line. Text from data is XML-escaped with control
/// characters removed; lines are thinned to at most two points per pixel column (the
/// lowest and highest), so a figure of long runs stays small.
public struct SVGPlot: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// A logarithmic y axis; values ≤ 0 are not drawn.
    public var logY: Bool
    public var series: [PlotSeries]

    public init(title: String = "", xLabel: String = "", yLabel: String = "", logY: Bool = false, series: [PlotSeries] = []) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.logY = logY; self.series = series
    }

    /// Values beyond this magnitude are treated as not drawable (they would leave no room
    /// for arithmetic on the axis).
    static let largest = 1e300
    /// The approximate width of a character of the 11-pixel text, for laying out labels.
    static let charWidth = 6.2
    /// Legend names longer than this (or than 40% of the width allows) are shortened with
    /// "…"; the full name stays in the series' data-name and title.
    static let legendCharacters = 36

    /// The document; `height` grows when the legend needs more room.
    public func render(width: Int = 720, height: Int = 420) -> String {
        let w = Double(max(width, 240))

        // Data ranges.
        func drawable(_ v: Double) -> Bool { v.isFinite && abs(v) <= SVGPlot.largest && (!logY || v > 0) }
        var xs: (lo: Double, hi: Double)?, ys: (lo: Double, hi: Double)?
        func extend(_ r: inout (lo: Double, hi: Double)?, _ v: Double) { r = r.map { (min($0.lo, v), max($0.hi, v)) } ?? (v, v) }
        for s in series {
            for p in s.points where p.x.isFinite && abs(p.x) <= SVGPlot.largest && drawable(p.y) { extend(&xs, p.x); extend(&ys, p.y) }
            for b in s.band where b.x.isFinite && abs(b.x) <= SVGPlot.largest && drawable(b.hi) && b.lo.isFinite {
                extend(&xs, b.x); extend(&ys, b.hi)
                if drawable(b.lo) { extend(&ys, b.lo) }
            }
        }

        // Layout: title on top, legend on the right, tick labels and axis labels left and below.
        let titleText = SVGPlot.shorten(SVGPlot.clean(title), to: Int((w - 20) / 7.6))
        let top = titleText.isEmpty ? 14.0 : 40.0
        let legendCharacters = min(SVGPlot.legendCharacters, Int((0.4 * w - 34) / SVGPlot.charWidth))
        let names = series.map { SVGPlot.shorten(SVGPlot.clean($0.name), to: legendCharacters) }
        let legendWidth = names.isEmpty ? 0 : 34 + SVGPlot.charWidth * Double(names.map(\.count).max() ?? 0)
        let legendRow = 16.0
        let h = max(Double(max(height, 180)), top + legendRow * Double(names.count) + 12)
        let yAxis = ys.map { logY ? ChartAxis.logarithmic($0.lo, $0.hi) : ChartAxis.linear($0.lo, $0.hi, target: 6) }
        let yTickChars = yAxis.map { $0.ticks.map { $0.label.count }.max() ?? 0 } ?? 0
        let left = 30 + SVGPlot.charWidth * Double(yTickChars) + 8
        let right = w - 12 - (names.isEmpty ? 0 : legendWidth + 16)
        let bottom = h - 46
        let plotWidth = max(right - left, 40), plotHeight = max(bottom - top, 40)
        let xAxis = xs.map { ChartAxis.linear($0.lo, $0.hi, target: max(2, Int(plotWidth / 90))) }

        var svg = SVGPlot.documentStart(width: w, height: h, title: titleText, untitled: "plot")
        if !titleText.isEmpty {
            svg += "<text x=\"\(SVGPlot.number(w / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(SVGPlot.escape(titleText))</text>\n"
        }
        let frame = "<rect class=\"frame\" x=\"\(SVGPlot.number(left))\" y=\"\(SVGPlot.number(top))\" width=\"\(SVGPlot.number(plotWidth))\" height=\"\(SVGPlot.number(plotHeight))\" fill=\"none\" stroke=\"#333333\"/>\n"
        let xLabelText = SVGPlot.escape(SVGPlot.clean(xLabel)), yLabelText = SVGPlot.escape(SVGPlot.clean(yLabel))
        svg += "<text class=\"x-label\" x=\"\(SVGPlot.number(left + plotWidth / 2))\" y=\"\(SVGPlot.number(h - 10))\" text-anchor=\"middle\" font-size=\"12\">\(xLabelText)</text>\n"
        let yLabelX = SVGPlot.number(14), yLabelY = SVGPlot.number(top + plotHeight / 2)
        svg += "<text class=\"y-label\" x=\"\(yLabelX)\" y=\"\(yLabelY)\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 \(yLabelX) \(yLabelY))\">\(yLabelText)</text>\n"

        if let xAxis, let yAxis {
            let px = { (x: Double) -> Double in left + (x - xAxis.lo) / (xAxis.hi - xAxis.lo) * plotWidth }
            let py = { (y: Double) -> Double in
                self.logY ? bottom - (log10(y) - log10(yAxis.lo)) / (log10(yAxis.hi) - log10(yAxis.lo)) * plotHeight
                          : bottom - (y - yAxis.lo) / (yAxis.hi - yAxis.lo) * plotHeight
            }
            // Grid, ticks and their labels.
            svg += "<g class=\"axes\" stroke=\"#333333\">\n"
            for t in xAxis.ticks {
                let x = SVGPlot.number(px(t.value))
                svg += "<line x1=\"\(x)\" y1=\"\(SVGPlot.number(top))\" x2=\"\(x)\" y2=\"\(SVGPlot.number(bottom))\" stroke=\"#e6e6e6\"/>"
                svg += "<line x1=\"\(x)\" y1=\"\(SVGPlot.number(bottom))\" x2=\"\(x)\" y2=\"\(SVGPlot.number(bottom + 5))\"/>"
                svg += "<text x=\"\(x)\" y=\"\(SVGPlot.number(bottom + 18))\" text-anchor=\"middle\" stroke=\"none\">\(t.label)</text>\n"
            }
            for t in yAxis.ticks {
                let y = SVGPlot.number(py(t.value))
                svg += "<line x1=\"\(SVGPlot.number(left))\" y1=\"\(y)\" x2=\"\(SVGPlot.number(left + plotWidth))\" y2=\"\(y)\" stroke=\"#e6e6e6\"/>"
                svg += "<line x1=\"\(SVGPlot.number(left - 5))\" y1=\"\(y)\" x2=\"\(SVGPlot.number(left))\" y2=\"\(y)\"/>"
                svg += "<text x=\"\(SVGPlot.number(left - 8))\" y=\"\(SVGPlot.number(py(t.value) + 4))\" text-anchor=\"end\" stroke=\"none\">\(t.label)</text>\n"
            }
            svg += "</g>\n" + frame
            let yBottom = yAxis.lo
            for s in series { svg += seriesElement(s, px: px, py: py, drawable: drawable, yFloor: yBottom) }
        } else {
            svg += frame
            svg += "<text class=\"no-data\" x=\"\(SVGPlot.number(left + plotWidth / 2))\" y=\"\(SVGPlot.number(top + plotHeight / 2))\" text-anchor=\"middle\" font-size=\"14\" fill=\"#666666\">no data</text>\n"
            for s in series { svg += "<g class=\"series\" data-name=\"\(SVGPlot.escape(SVGPlot.clean(s.name)))\"></g>\n" }
        }

        // Legend: a swatch (line, dash, and the band's tint when there is one) and the name.
        if !names.isEmpty {
            let lx = w - 12 - legendWidth
            svg += "<g class=\"legend\">\n"
            for (i, (s, name)) in zip(series, names).enumerated() {
                let y = top + 8 + legendRow * Double(i)
                let color = SVGPlot.color(s.color)
                if !s.band.isEmpty {
                    svg += "<rect x=\"\(SVGPlot.number(lx))\" y=\"\(SVGPlot.number(y - 5))\" width=\"24\" height=\"10\" fill=\"\(color)\" fill-opacity=\"0.2\"/>"
                }
                svg += "<line x1=\"\(SVGPlot.number(lx))\" y1=\"\(SVGPlot.number(y))\" x2=\"\(SVGPlot.number(lx + 24))\" y2=\"\(SVGPlot.number(y))\" stroke=\"\(color)\" stroke-width=\"2\"\(SVGPlot.dashAttribute(s.dash))/>"
                svg += "<text x=\"\(SVGPlot.number(lx + 30))\" y=\"\(SVGPlot.number(y + 4))\">\(SVGPlot.escape(name))</text>\n"
            }
            svg += "</g>\n"
        }
        return svg + "</svg>\n"
    }

    /// One series: its band as closed paths, its line as polylines (one per stretch of
    /// drawable points), a dot for a point standing alone, and markers when the points are few.
    func seriesElement(_ s: PlotSeries, px: (Double) -> Double, py: (Double) -> Double,
                       drawable: (Double) -> Bool, yFloor: Double) -> String {
        let color = SVGPlot.color(s.color)
        let name = SVGPlot.escape(SVGPlot.clean(s.name))
        var out = "<g class=\"series\" data-name=\"\(name)\">\n<title>\(name)</title>\n"
        func ok(_ x: Double) -> Bool { x.isFinite && abs(x) <= SVGPlot.largest }

        // Band: per column of two pixels, the highest hi and the lowest lo; a gap splits it.
        var bandPath = ""
        var upper: [(Double, Double)] = [], lower: [(Double, Double)] = []
        func closeBand() {
            if upper.count > 1 {
                // After the first pair, further pairs of an M are lines to them.
                bandPath += "M" + (upper + lower.reversed()).map { SVGPlot.point($0.0, $0.1, " ") }.joined(separator: " ") + " Z"
            }
            upper = []; lower = []
        }
        var bandColumn = Int.min
        for b in s.band {
            guard ok(b.x), drawable(b.hi), b.lo.isFinite else { closeBand(); bandColumn = Int.min; continue }
            let x = px(b.x), hi = py(b.hi), lo = py(drawable(b.lo) ? b.lo : yFloor)
            let column = Int((x / 2).rounded(.down))
            if column == bandColumn, !upper.isEmpty {
                upper[upper.count - 1].1 = min(upper[upper.count - 1].1, hi)
                lower[lower.count - 1].1 = max(lower[lower.count - 1].1, lo)
            } else {
                upper.append((x, hi)); lower.append((x, lo))
                bandColumn = column
            }
        }
        closeBand()
        if !bandPath.isEmpty {
            out += "<path class=\"band\" d=\"\(bandPath)\" fill=\"\(color)\" fill-opacity=\"0.2\" stroke=\"none\"/>\n"
        }

        // Line: per pixel column, the lowest and highest point in the order they come.
        var segments: [[(Double, Double)]] = []
        var current: [(Double, Double)] = []
        var column: [(Double, Double)] = []
        var columnIndex = Int.min
        func flushColumn() {
            if column.count <= 2 { current += column } else {
                let iMin = column.indices.min { column[$0].1 < column[$1].1 }!
                let iMax = column.indices.max { column[$0].1 < column[$1].1 }!
                current += iMin == iMax ? [column[iMin]] : [column[min(iMin, iMax)], column[max(iMin, iMax)]]
            }
            column = []
        }
        func closeSegment() {
            flushColumn()
            if !current.isEmpty { segments.append(current) }
            current = []; columnIndex = Int.min
        }
        var drawn = 0
        for p in s.points {
            guard ok(p.x), drawable(p.y) else { closeSegment(); continue }
            drawn += 1
            let x = px(p.x), y = py(p.y)
            let c = Int(x.rounded(.down))
            if c != columnIndex { flushColumn(); columnIndex = c }
            column.append((x, y))
        }
        closeSegment()
        let dash = SVGPlot.dashAttribute(s.dash)
        var dots: [(Double, Double)] = []
        for seg in segments {
            if seg.count == 1 { dots.append(seg[0]); continue }
            out += "<polyline points=\"" + seg.map { SVGPlot.point($0.0, $0.1, ",") }.joined(separator: " ")
            out += "\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" stroke-linejoin=\"round\"\(dash)/>\n"
        }
        // Markers show where the values are when there are few of them (evaluations).
        if drawn <= 40 { dots = segments.flatMap { $0 } }
        var seen = Set<String>()
        for d in dots {
            guard seen.insert(SVGPlot.point(d.0, d.1, ",")).inserted else { continue }
            out += "<circle cx=\"\(SVGPlot.number(d.0, decimals: 1))\" cy=\"\(SVGPlot.number(d.1, decimals: 1))\" r=\"2.5\" fill=\"\(color)\"/>\n"
        }
        return out + "</g>\n"
    }

    /// A standalone document's opening: the XML declaration, the svg element (its size, the
    /// font), its title (`untitled` when empty) and a white background. SVGPlot and
    /// FeatureScatter start alike.
    static func documentStart(width w: Double, height h: Double, title: String, untitled: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(Int(w))" height="\(Int(h))" \
        viewBox="0 0 \(Int(w)) \(Int(h))" font-family="Helvetica, Arial, sans-serif" font-size="11">
        <title>\(title.isEmpty ? untitled : SVGPlot.escape(title))</title>
        <rect x="0" y="0" width="\(Int(w))" height="\(Int(h))" fill="#ffffff"/>

        """
    }

    // MARK: Text and numbers

    /// A coordinate with at most two decimals (or one) — "12", "12.5", "-3.25" — clamped to ±10⁷.
    static func number(_ v: Double, decimals: Int = 2) -> String {
        guard v.isFinite else { return "0" }
        let scale = decimals == 1 ? 10 : 100
        let r = Int((min(max(v, -1e7), 1e7) * Double(scale)).rounded())
        if r % scale == 0 { return String(r / scale) }
        let a = abs(r), whole = a / scale, fraction = a % scale
        let sign = r < 0 ? "-" : ""
        if scale == 10 { return "\(sign)\(whole).\(fraction)" }
        if fraction % 10 == 0 { return "\(sign)\(whole).\(fraction / 10)" }
        return "\(sign)\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// A point of a line or band: a tenth of a pixel is finer than any screen shows, and
    /// keeps figures of long runs small.
    static func point(_ x: Double, _ y: Double, _ separator: String) -> String {
        number(x, decimals: 1) + separator + number(y, decimals: 1)
    }

    /// `text` without control characters (C0, DEL, C1) or the non-characters XML refuses.
    static func clean(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            let v = u.value
            if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0xFFFE || v == 0xFFFF { continue }
            out.append(u)
        }
        return String(out)
    }

    /// `text` for XML content or an attribute value: & < > " ' as entities. Control
    /// characters are removed here too.
    public static func escape(_ text: String) -> String {
        var out = ""
        for u in clean(text).unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// At most `limit` characters: when shortened, its start and end joined by "…" (names
    /// of runs of one experiment differ at their ends).
    static func shorten(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        let head = max(limit - 1, 0) / 2, tail = max(limit - 1 - head, 0)
        return String(text.prefix(head)) + "…" + String(text.suffix(tail))
    }

    /// A hex colour as given, or black.
    static func color(_ text: String) -> String {
        let hex = text.dropFirst()
        let valid = text.first == "#" && (hex.count == 3 || hex.count == 6) && hex.allSatisfy { $0.isASCII && $0.isHexDigit }
        return valid ? text : "#000000"
    }

    /// ` stroke-dasharray="…"` for a dash made of numbers, spaces and commas; else nothing.
    static func dashAttribute(_ dash: String?) -> String {
        guard let dash, !dash.isEmpty, dash.count <= 40, dash.allSatisfy({ $0.isASCII && ($0.isNumber || " ,.".contains($0)) }) else { return "" }
        return " stroke-dasharray=\"\(dash)\""
    }
}

// MARK: Figures of runs

extension SVGPlot {
    /// What a figure of runs shows on its y axis.
    public enum Metric: String, Sendable, CaseIterable {
        case testAccuracy = "test-accuracy", trainingLoss = "training-loss", learningRate = "learning-rate"

        public var label: String {
            switch self {
            case .testAccuracy: return "test accuracy"
            case .trainingLoss: return "training loss"
            case .learningRate: return "learning rate"
            }
        }
    }

    /// What a figure of runs shows on its x axis.
    public enum Abscissa: String, Sendable, CaseIterable {
        case step, epoch, time

        public var label: String { self == .time ? "time (s)" : rawValue }
    }

    /// The points of one run: its evaluations (test accuracy) or its step records (loss,
    /// learning rate), in the order recorded.
    public static func points(of run: RunSnapshot, metric: Metric, x: Abscissa) -> [(x: Double, y: Double)] {
        switch metric {
        case .testAccuracy:
            return run.evals.map { e in (x == .step ? Double(e.step) : x == .epoch ? e.epoch : e.time, e.testAccuracy) }
        case .trainingLoss, .learningRate:
            return run.steps.map { s in
                (x == .step ? Double(s.step) : x == .epoch ? s.epoch : s.time, metric == .trainingLoss ? s.loss : s.learningRate)
            }
        }
    }

    /// A figure of runs: one series per run, named by the run (its directory's name when
    /// two runs share a name), or with `grouped` one per group of runs that differ only in
    /// their seed (`RunGrouping`), named by the group's label: the mean over its seeds
    /// with the min–max band. Colours come from `SeriesColors` over the series' identities
    /// (the run directory's name, or `RunGroup.identity`, as in the dashboard); a series whose colour an earlier
    /// one already has (more than twelve) is dashed.
    public init(runs: [RunSnapshot], metric: Metric, x: Abscissa, grouped: Bool, title: String) {
        var colors = SeriesColors(slots: SeriesColors.svg.count)
        var used = Set<Int>()
        func style(_ identity: String) -> (color: String, dash: String?) {
            let slot = colors.slot(for: identity)
            return (SeriesColors.svg[slot], used.insert(slot).inserted ? nil : "6 3")
        }
        var series: [PlotSeries] = []
        if grouped && !runs.isEmpty {   // (RunGrouping's labels need at least one run)
            for g in RunGrouping(snapshots: runs).groups {
                let a = SeriesAggregation.aggregate(g.runs.map { SVGPlot.points(of: $0, metric: metric, x: x) })
                let (color, dash) = style(g.identity)
                series.append(PlotSeries(name: g.label, color: color, points: a.map { ($0.x, $0.mean) },
                                         band: g.runs.count > 1 ? a.map { ($0.x, $0.lo, $0.hi) } : [], dash: dash))
            }
        } else {
            let sharedNames = Set(runs.map(\.config.name)).count < runs.count
            for r in runs {
                let directoryName = r.directory.map { ($0 as NSString).lastPathComponent } ?? r.config.name
                let (color, dash) = style(directoryName)
                series.append(PlotSeries(name: sharedNames ? directoryName : r.config.name, color: color,
                                         points: SVGPlot.points(of: r, metric: metric, x: x), dash: dash))
            }
        }
        self.init(title: title, xLabel: x.label, yLabel: metric.label, series: series)
    }
}
