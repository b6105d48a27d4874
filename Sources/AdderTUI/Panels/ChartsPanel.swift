import AdderCore
import AdderTrain
import Foundation

/// What the two charts show, made from the state once for the screen and for the SVG
/// export alike: the loss and test-accuracy series of the compared runs and groups (or
/// the focused row's), their markers, and one x range for both.
struct ChartData {
    var loss: LineChart
    var accuracy: LineChart
    /// Each series' colour identity (for the SVG palette, given as `adderlab plot` gives it).
    var identities: [String]

    init(state: DashboardState, glyphs g: Glyphs, legendWidth: Int, samples: Int) {
        let items = state.chartItems
        identities = items.map { DashboardState.colorIdentity($0.id) }
        let xName = state.xAxis.label
        var markers: [LineChart.Marker] = []
        for item in items where !item.isGroup {
            let e = item.entries[0]
            let map = XMapper(state.xAxis, e.snapshot)
            for ev in e.snapshot.events where [.gradientMode, .eta, .pause].contains(ev.kind) {
                let label = ev.kind == .gradientMode ? "g" : (ev.kind == .eta ? "e" : "p")
                markers.append(LineChart.Marker(x: map.x(step: ev.step, time: ev.time), color: item.color, label: label))
            }
        }
        // Full names when they fit in the legend, the short labels otherwise.
        let full = items.map(\.label)
        let short = full.count > 1 && full.reduce(0, { $0 + $1.count + 2 }) > legendWidth
        let names = items.map { g.text(short && !$0.isGroup ? (state.rowModel.shortNames[$0.id] ?? $0.label) : $0.label) }
        let glyphSet = g.unicode ? LineChart.glyphsUnicode : LineChart.glyphsASCII
        // Glyphs by place: distinct among the series shown.
        func series(_ i: Int, _ curves: [[(x: Double, y: Double)]]) -> LineChart.Series {
            items[i].series(curves, name: names[i], glyph: glyphSet[i % glyphSet.count])
        }
        // Short titles: the legend needs the room (smoothing and scale are in the status line).
        loss = LineChart(title: "loss" + (state.logScale ? " (log)" : ""), series: items.indices.map { i in
            series(i, items[i].entries.map { e in
                let map = XMapper(state.xAxis, e.snapshot)
                let steps = ChartsPanel.downsample(e.snapshot.steps, to: samples)
                let ys = smoothed(steps.map(\.loss), weight: state.smoothing)
                return zip(steps, ys).map { (map.x(step: $0.step, time: $0.time), $1) }
            })
        })
        loss.logY = state.logScale
        loss.markers = markers
        loss.xLabel = xName
        accuracy = LineChart(title: "test acc", series: items.indices.map { i in
            series(i, items[i].entries.map { e in
                let map = XMapper(state.xAxis, e.snapshot)
                return e.snapshot.evals.map { (map.x(step: $0.step, time: $0.time), $0.testAccuracy) }
            })
        })
        accuracy.markers = markers
        accuracy.xLabel = xName
        accuracy.percent = true
        let accs = items.flatMap { $0.entries.flatMap { $0.snapshot.evals.flatMap { state.batchStatisticsCurves ? [$0.testAccuracy, $0.testAccuracyBatchStatistics] : [$0.testAccuracy] } } }
        if let lo = accs.filter(\.isFinite).min() { accuracy.yRange = max(0, min(0.9, (lo * 10).rounded(.down) / 10))...1 }
        // One x range for both charts: an event sits in the same column in each.
        // B: each run's accuracy with batch statistics too, in its colour with its own glyph —
        // where the two part, the running batch-norm statistics have fallen behind the weights.
        if state.batchStatisticsCurves {
            accuracy.series += items.indices.map { i in
                var s = items[i].series(items[i].entries.map { e in
                    let map = XMapper(state.xAxis, e.snapshot)
                    return e.snapshot.evals.map { (map.x(step: $0.step, time: $0.time), $0.testAccuracyBatchStatistics) }
                }, name: names[i] + " batch", glyph: glyphSet[(i + items.count) % glyphSet.count])
                s.band = []
                return s
            }
        }
        let xs = (loss.series + accuracy.series).flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        if let lo = xs.min(), let hi = xs.max(), hi > lo { loss.xRange = lo...hi; accuracy.xRange = lo...hi }
        loss.cursor = state.cursor
        accuracy.cursor = state.cursor
        loss.glyphs = g; loss.color = state.color
        accuracy.glyphs = g; accuracy.color = state.color
    }

    /// The charts as two SVG documents (loss, accuracy), each series in the colour
    /// `adderlab plot` gives it (12 slots over the same identities in the same order, a
    /// palette made for white paper).
    func svg() -> (loss: String, accuracy: String) {
        var colors = SeriesColors(slots: SeriesColors.svg.count)
        let palette = identities.map { SeriesColors.svg[colors.slot(for: $0)] }
        func plot(_ c: LineChart, _ y: String) -> String {
            // A run's batch-statistics curve (B) after all the others, in the run's colour.
            SVGPlot(title: c.title, xLabel: c.xLabel, yLabel: y, logY: c.logY, series: c.series.enumerated().map { i, s in
                PlotSeries(name: s.name, color: palette.isEmpty ? "#000000" : palette[i % palette.count], points: s.points, band: s.band)
            }).render()
        }
        return (plot(loss, "loss"), plot(accuracy, "test accuracy"))
    }
}

/// The loss and test-accuracy charts, side by side, of the compared runs and groups (or
/// the focused row's). A group is drawn as the mean of its runs with a band from the
/// lowest to the highest, aligned by step (or epoch).
struct ChartsPanel: Widget {
    let state: DashboardState
    let glyphs: Glyphs

    func render(into grid: inout Grid, area r: Rect) {
        let halves = Layout.columns(r, [.fixed(r.width / 2), .fill])
        let left = halves[0], right = halves[1]
        let data = ChartData(state: state, glyphs: glyphs, legendWidth: left.width - 10, samples: max(64, left.width * 4))
        Box.draw(&grid, left, title: "", glyphs: glyphs)
        data.loss.render(into: &grid, area: left.inset(1))
        Box.draw(&grid, right, title: "", glyphs: glyphs)
        data.accuracy.render(into: &grid, area: right.inset(1))
    }

    /// At most `n` step records, evenly spaced, always keeping the last.
    static func downsample(_ s: [StepRecord], to n: Int) -> [StepRecord] {
        guard s.count > n, n > 1 else { return s }
        return (0..<n).map { s[$0 * (s.count - 1) / (n - 1)] }
    }
}
