import AdderData
import AdderTrain
import Foundation

/// What the feature view (key F) shows: the evaluation chosen with ← → (nil: the latest,
/// followed as new ones arrive).
public struct FeatureViewSettings: Sendable, Equatable {
    public var step: Int?
    public init(step: Int? = nil) { self.step = step }
}

/// A run's feature records as the dashboard last read them from features.jsonl, and the
/// lines it skipped (named with their numbers).
public struct RunFeatures: Sendable, Equatable {
    public var records: [FeatureRecord]
    public var problems: [String]
    public init(records: [FeatureRecord] = [], problems: [String] = []) { self.records = records; self.problems = problems }
}

/// The feature view: the test set's 2-D features (the paper's Fig. 1) of the focused run,
/// or of the first two compared runs or groups side by side (a group: its first run), as a
/// braille scatter with one colour per class at one evaluation, and the class digit at each
/// class's centroid. Without colour (NO_COLOR) the centroid digits and the legend tell the
/// classes apart; with 8 colours classes k and k+6 share one; in ASCII each cell shows the
/// digit of the class with most points in it.
struct FeatureSpacePanel: Widget {
    let state: DashboardState
    let settings: FeatureViewSettings
    let glyphs: Glyphs

    /// Panels side by side at most.
    static let maximumPanels = 2

    /// The runs drawn: the first run of each chart item (the focused row, or the compared
    /// runs and groups), at most `maximumPanels`, with the item's label.
    static func shown(_ state: DashboardState) -> [(entry: RunEntry, label: String)] {
        Array(state.chartItems.compactMap { item in item.entries.first.map { ($0, item.label) } }.prefix(maximumPanels))
    }

    static func entries(_ state: DashboardState) -> [RunEntry] { shown(state).map(\.entry) }

    /// The record of `records` shown for `step`: the last at or before it (the first when
    /// none is), or the last of all for nil.
    static func record(_ records: [FeatureRecord], at step: Int?) -> (record: FeatureRecord, index: Int)? {
        guard !records.isEmpty else { return nil }
        guard let step else { return (records[records.count - 1], records.count - 1) }
        let i = records.lastIndex { $0.step <= step } ?? 0
        return (records[i], i)
    }

    /// The class colours: 10 of the 256-colour series palette, or the 6 of 8 colours.
    func classColor(_ label: Int) -> TermColor? {
        guard state.color else { return nil }
        let palette = state.color256 ? Array(TermColor.series256.prefix(10)) : TermColor.series8
        return palette[label % palette.count]
    }

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        let dot = g.unicode ? "·" : "|"
        let all = state.chartItems.count
        Box.draw(&grid, r, title: g.text("Feature space \(dot) ← → evaluation \(dot) F closes"
                                         + (all > FeatureSpacePanel.maximumPanels ? " \(dot) first 2 of \(all) compared" : "")), glyphs: g)
        let inner = r.inset(1)
        let shown = FeatureSpacePanel.shown(state)
        guard inner.width > 10, inner.height > 3 else { return }
        guard let first = shown.first?.entry else {
            grid.put(inner.x + 1, inner.y, "no run", .plain, maxWidth: inner.width - 1)
            return
        }
        // The legend: "k name" in the class colour, wrapped over the bottom rows.
        let dataset = first.snapshot.config.dataset
        var legendRows: [[(String, Int)]] = [[]]
        var used = 1
        for k in 0..<10 {
            let text = "\(k) " + g.text(FeatureScatter.className(k, dataset: dataset))
            let w = text.unicodeScalars.count + 2
            if used + w > inner.width && !legendRows[legendRows.count - 1].isEmpty { legendRows.append([]); used = 1 }
            legendRows[legendRows.count - 1].append((text, k)); used += w
        }
        let anyPoints = shown.contains { !(state.features[$0.entry.id]?.records.isEmpty ?? true) }
        let legendHeight = anyPoints ? min(legendRows.count, max(0, inner.height - 4)) : 0
        for (i, row) in legendRows.prefix(legendHeight).enumerated() {
            var x = inner.x + 1
            for (text, k) in row {
                x += grid.put(x, inner.y + inner.height - legendHeight + i, text, Style(classColor(k), bold: true), maxWidth: inner.x + inner.width - x) + 2
            }
        }
        let body = Rect(x: inner.x, y: inner.y, width: inner.width, height: inner.height - legendHeight)
        let columns = Layout.columns(body, shown.map { _ in .fill })
        for ((entry, label), area) in zip(shown, columns) { renderRun(entry, label: label, into: &grid, area: area) }
    }

    /// One run's scatter in `r`: its title line, y labels, the square plot, x labels.
    func renderRun(_ e: RunEntry, label: String, into grid: inout Grid, area r: Rect) {
        let g = glyphs
        let dot = g.unicode ? "·" : "|"
        let name = label
        let features = state.features[e.id] ?? RunFeatures()
        guard let (record, index) = FeatureSpacePanel.record(features.records, at: settings.step) else {
            let lines = e.snapshot.config.featureDimensions == 0
                ? ["\(name): no feature layer.", "Runs with featureDimensions: 2 record", "their features (fashion-features.yaml)."]
                : !features.problems.isEmpty ? ["\(name): no feature record could be read:"]
                : ["\(name): no evaluation yet.", "The features of the first 2,000 test", "images are drawn at each evaluation."]
            for (i, l) in (lines + features.problems.prefix(3)).enumerated() where i < r.height {
                grid.put(r.x + 1, r.y + i, g.text(l), i == 0 ? Style(bold: true) : .plain, maxWidth: r.width - 2)
            }
            return
        }
        let accuracy = e.snapshot.evals.last { $0.step == record.step }.map { String(format: " %@ acc %.1f%%", dot, $0.testAccuracy * 100) } ?? ""
        // The fullest title that fits: the run's name (its short name from what differs when
        // the full one does not), the step, epoch, accuracy and which evaluation of how many.
        let short = state.rowModel.shortNames[e.id] ?? name
        let tail = " \(dot) step \(record.step) \(dot) epoch \(String(format: "%.2f", record.epoch))\(accuracy) \(dot) \(index + 1)/\(features.records.count)"
        let candidates = [name + tail, short + tail, short + " \(dot) step \(record.step)\(accuracy) \(dot) \(index + 1)/\(features.records.count)",
                          short + " \(dot) step \(record.step)\(accuracy)"]
        let title = candidates.first { $0.unicodeScalars.count <= r.width - 2 } ?? candidates[candidates.count - 1]
        grid.put(r.x + 1, r.y, g.text(title), Style(bold: true), maxWidth: r.width - 2)
        let scatter = FeatureScatter(record: record, dataset: e.snapshot.config.dataset)
        guard let window = scatter.window, r.height >= 4 else { return }

        // A square of dots (a braille dot is about as wide as it is high): 2 columns × 4 rows
        // per cell, so a square of c columns takes c/2 rows.
        let lo = (x: window.cx - window.half, y: window.cy - window.half), span = 2 * window.half
        let yAxis = ChartAxis.linear(within: lo.y, lo.y + span, target: 4)
        let labelWidth = (yAxis.ticks.map { $0.label.count }.max() ?? 1) + 1
        let plotRows = r.height - 2, plotColumns = r.width - labelWidth - 2
        let cols = max(2, min(plotColumns, 2 * plotRows) / 2 * 2), rows = cols / 2
        let px = r.x + 1 + labelWidth, py = r.y + 1
        var canvas = BrailleCanvas(columns: cols, rows: rows)
        let dw = Double(canvas.dotWidth - 1), dh = Double(canvas.dotHeight - 1)
        func dotX(_ x: Double) -> Int { Int(((x - lo.x) / span * dw).rounded()) }
        func dotY(_ y: Double) -> Int { Int(((1 - (y - lo.y) / span) * dh).rounded()) }
        var cellCounts: [Int: [Int]] = [:]
        for i in 0..<record.count {
            let x = dotX(Double(record.x[i])), y = dotY(Double(record.y[i])), k = record.labels[i]
            canvas.set(x, y, classColor(k))
            if !g.unicode, k < 10 { cellCounts[(y / 4) * cols + x / 2, default: Array(repeating: 0, count: 10)][k] += 1 }
        }
        if g.unicode {
            canvas.draw(into: &grid, x: px, y: py, unicode: true)
            // The class digit at each centroid, so that classes are told apart without colour.
            for (k, c) in scatter.centroids.enumerated() where k < 10 {
                guard let c else { continue }
                grid.put(px + dotX(c.x) / 2, py + dotY(c.y) / 4, String(k), Style(classColor(k), bold: true, reverse: true))
            }
        } else {
            for (cell, counts) in cellCounts {
                let k = counts.indices.max { counts[$0] < counts[$1] } ?? 0
                grid.put(px + cell % cols, py + cell / cols, String(k), Style(classColor(k)))
            }
        }
        // Axes: ticks at round values inside the window, the same step on both.
        let axisStyle = Style(dim: true)
        for t in yAxis.ticks {
            let row = dotY(t.value) / 4
            guard row >= 0, row < rows else { continue }
            grid.put(r.x + 1, py + row, Grid.fit(t.label, labelWidth - 1, unicode: g.unicode, alignRight: true), axisStyle)
            grid.put(px - 1, py + row, String(g.tick), axisStyle)
        }
        let xAxis = ChartAxis.linear(within: lo.x, lo.x + span, target: max(2, cols / 8))
        var free = px
        for t in xAxis.ticks {
            let col = px + dotX(t.value) / 2 - t.label.count / 2
            guard col >= free, col + t.label.count <= px + cols + 2 else { continue }
            grid.put(col, py + rows, t.label, axisStyle)
            free = col + t.label.count + 1
        }
    }
}
