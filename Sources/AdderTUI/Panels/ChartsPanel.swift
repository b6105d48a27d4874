import AdderTrain
import Foundation

/// The loss and test-accuracy charts, side by side, of the compared runs (or the focused one).
struct ChartsPanel: Widget {
    let state: DashboardState
    let glyphs: Glyphs

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        let halves = Layout.columns(r, [.fixed(r.width / 2), .fill])
        let left = halves[0], right = halves[1]
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
            let steps = ChartsPanel.downsample(e.snapshot.steps, to: max(64, left.width * 4))
            let ys = smoothed(steps.map(\.loss), weight: state.smoothing)
            return LineChart.Series(name: e.snapshot.config.name, color: c, points: zip(steps, ys).map { (x($0.step, e), $1) })
        })
        loss.logY = state.logScale
        loss.markers = markers
        loss.xLabel = xName
        Box.draw(&grid, left, title: "", glyphs: g)
        loss.glyphs = g; loss.color = state.color
        loss.render(into: &grid, area: left.inset(1))
        var acc = LineChart(title: "test accuracy", series: runs.map { e, c in
            LineChart.Series(name: e.snapshot.config.name, color: c, points: e.snapshot.evals.map { (x($0.step, e), $0.testAccuracy) })
        })
        acc.markers = markers
        acc.xLabel = xName
        let accs = runs.flatMap { $0.0.snapshot.evals.map(\.testAccuracy) }
        if let lo = accs.min() { acc.yRange = max(0, (lo * 10).rounded(.down) / 10)...1 }
        Box.draw(&grid, right, title: "", glyphs: g)
        acc.glyphs = g; acc.color = state.color
        acc.render(into: &grid, area: right.inset(1))
    }

    /// At most `n` step records, evenly spaced, always keeping the last.
    static func downsample(_ s: [StepRecord], to n: Int) -> [StepRecord] {
        guard s.count > n, n > 1 else { return s }
        return (0..<n).map { s[$0 * (s.count - 1) / (n - 1)] }
    }
}
