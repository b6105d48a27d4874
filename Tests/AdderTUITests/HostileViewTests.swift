import Foundation
import Testing
import AdderTestSupport
@testable import AdderTrain
@testable import AdderTUI

/// A run directory may hold any number: the views draw NaN, ±1e308 and 1e-300 without
/// trapping, at every size, in every chart mode.
@Suite("Dashboard on hostile values")
struct HostileViewTests {
    static let extremes: [Double] = [.nan, .infinity, -.infinity, 1e308, -1e308, 1e-300, -0.0, 0, Double(Float.greatestFiniteMagnitude)]

    func hostileRun(_ name: String, _ k: Int) -> RunEntry {
        var e = fakeRun(name, steps: 30)
        let x = Self.extremes
        e.snapshot.steps = e.snapshot.steps.enumerated().map { i, s in
            var s = s
            s.loss = x[(i + k) % x.count]; s.epoch = x[(i + k + 1) % x.count]; s.time = x[(i + k + 2) % x.count]
            s.imagesPerSecond = x[(i + k + 3) % x.count]; s.learningRate = x[(i + k + 4) % x.count]
            return s
        }
        e.snapshot.evals = x.enumerated().map { i, v in
            EvalRecord(step: i * 3, epoch: v, testLoss: v, testAccuracy: x[(i + 1) % x.count], testAccuracyBatchStatistics: v,
                       trainAccuracy: v, time: v, drift: [DriftRecord(name: "bn1", meanGap: v, logVarianceRatio: v)])
        }
        e.snapshot.layers = e.snapshot.layers.enumerated().map { i, r in
            LayerRecord(step: r.step, layers: r.layers.map { l in
                LayerRecord.Layer(name: l.name, type: l.type, gradNorm: x[(i + k) % x.count], weightNorm: x[(i + k + 8) % x.count],
                                alpha: x[(i + k + 5) % x.count], outputMean: x[(i + k + 7) % x.count], outputStd: x[(i + k + 6) % x.count],
                                gradientRules: l.gradientRules)
            })
        }
        e.snapshot.eta = x[k % x.count]
        e.snapshot.elapsed = x[(k + 3) % x.count]
        e.snapshot.events.append(EventRecord(step: 5, kind: .eta, detail: "1e308", time: .nan))
        return e
    }

    @Test func extremeValuesRenderAtEverySizeAndMode() {
        let runs = (0..<4).map { hostileRun("h\($0)", $0) }
        for (w, h) in [(60, 18), (80, 24), (160, 50)] {
            for mode in 0..<8 {
                var st = state(runs)
                st.logScale = mode & 1 != 0
                st.xAxis = mode & 2 != 0 ? .epoch : (mode == 7 ? .time : .step)
                st.smoothing = mode & 4 != 0 ? 0.9 : 0
                if mode >= 4 { st.compared = Set(runs.map(\.id)) }
                let grid = DashboardView.render(st, width: w, height: h)
                #expect(grid.row(0).hasPrefix(" AdderLab  4 runs"))
            }
        }
        // The number formats shown for them.
        #expect(LineChart.label(1e308) == "1e+308" && LineChart.label(.nan) == "nan" && LineChart.label(-.infinity) == "-inf")
        #expect(Widgets.sparkline([1e308, -1e308, .nan, 0], width: 4, glyphs: Glyphs(unicode: false)) == "#.= ")
    }

    /// A run directory whose config.yaml is broken is named on screen, not hidden.
    @Test func unreadableRunDirectoriesAreNamed() throws {
        let runs = temporaryDirectory("tui")
        try FileManager.default.createDirectory(atPath: runs + "/bad", withIntermediateDirectories: true)
        try "name: bad\nepochs: -1\n".write(toFile: runs + "/bad/config.yaml", atomically: true, encoding: .utf8)
        let d = Dashboard(runsDirectory: runs, experimentsDirectory: runs, unicode: true, color: false)
        #expect(d.state.message == "1 run directory could not be read: \(runs)/bad/config.yaml:2: epochs: -1 is too small; it must be at least 1")
        #expect(d.unreadable == [runs + "/bad": "\(runs)/bad/config.yaml:2: epochs: -1 is too small; it must be at least 1"])
    }
}
