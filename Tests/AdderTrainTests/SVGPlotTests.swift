import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import AdderTestSupport
import Testing
@testable import AdderTrain


@Suite("SVG plots of runs")
struct SVGPlotTests {
    static var resultsDirectory: String { "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/experiments/results" }

    // MARK: SeriesAggregation

    @Test func aggregateAlignsByXOverRunsOfUnevenLength() {
        let a = SeriesAggregation.aggregate([
            [(0, 1), (1, 2), (2, 3)],
            [(0, 3), (1, .nan), (2, 5), (3, 7), (4, .nan)],
            [(1, 4)],
        ])
        #expect(a.map(\.x) == [0, 1, 2, 3])        // x = 4 has no finite value: omitted
        #expect(a.map(\.mean) == [2, 3, 4, 7])     // x = 1: (2 + 4) / 2, the NaN left out
        #expect(a.map(\.lo) == [1, 2, 3, 7])
        #expect(a.map(\.hi) == [3, 4, 5, 7])
    }

    @Test func aggregateSortsSkipsNonFiniteAndCountsARunOnceAtAnX() {
        let a = SeriesAggregation.aggregate([
            [(3, 30), (1, 10), (.nan, 5), (2, .infinity)],
            [(2, 0), (1, -2), (1, 4), (2, -.infinity)],   // x = 1 twice: the last one (4) counts
        ])
        #expect(a.map(\.x) == [1, 2, 3])
        #expect(a.map(\.mean) == [7, 0, 30])
        #expect(a.map(\.lo) == [4, 0, 30])
        #expect(a.map(\.hi) == [10, 0, 30])
        #expect(SeriesAggregation.aggregate([]).isEmpty)
        #expect(SeriesAggregation.aggregate([[], [(1, .nan)]]).isEmpty)
    }

    /// 21 runs of 100,000 steps: aggregated quickly, and the 7-group figure stays small.
    @Test func aLargeGroupedFigureIsFastAndSmall() throws {
        let steps = 100_000
        let runs = (0..<21).map { r in
            (0..<steps).map { i -> (x: Double, y: Double) in
                let x = Double(i * 10)
                return (x, 2 * exp(-x / 200_000) + 0.3 * sin(Double(i) * 0.7 + Double(r)) + Double(r % 7) * 0.1)
            }
        }
        let start = Date()
        let groups = (0..<7).map { g in SeriesAggregation.aggregate([runs[g], runs[g + 7], runs[g + 14]]) }
        let aggregated = Date().timeIntervalSince(start)
        #expect(groups.allSatisfy { $0.count == steps })
        #expect(aggregated < 10, "aggregating 21 × 100,000 points took \(aggregated) s")
        let series = groups.enumerated().map { g, a in
            PlotSeries(name: "group \(g)", color: SeriesColors.svg[g], points: a.map { ($0.x, $0.mean) }, band: a.map { ($0.x, $0.lo, $0.hi) })
        }
        let svg = SVGPlot(title: "large", xLabel: "step", yLabel: "loss", series: series).render()
        #expect(svg.utf8.count < 200_000, "\(svg.utf8.count) bytes")
        let c = try #require(SVGContents.parse(svg))
        #expect(c.series.count == 7)
        #expect(c.bands == 7)
        // At most two points per pixel column of the 720-pixel-wide figure.
        #expect(c.polylines.count == 7 && c.polylines.allSatisfy { $0.count <= 2 * 720 })
        // The thinned line still reaches the extremes of the data in its columns.
        let ys = c.polylines[0].map(\.1)
        #expect(ys.max()! - ys.min()! > 100)
    }

    // MARK: SeriesColors

    @Test func colorHashIsFNV1a64() {
        #expect(SeriesColors.hash("") == 0xcbf2_9ce4_8422_2325)
        #expect(SeriesColors.hash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(SeriesColors.hash("foobar") == 0x8594_4171_f739_67e8)
        // The same slots in every process: worked out by hand from the hash.
        var colors = SeriesColors(slots: 12)
        #expect(colors.slot(for: "cnn") == 10)           // 0xf6020f190cff614e % 12
        #expect(colors.slot(for: "fp·adaptive") == 6)    // 0xe89542798a9e617a % 12, over UTF-8 bytes
        #expect(SeriesColors.svg.count == 12 && Set(SeriesColors.svg).count == 12)
    }

    @Test func collidingIdentitiesGetTheNextFreeSlot() {
        // "id7" and "id10" both hash to slot 1; "id2" to slot 2.
        #expect(SeriesColors.hash("id7") % 12 == 1 && SeriesColors.hash("id10") % 12 == 1 && SeriesColors.hash("id2") % 12 == 2)
        var colors = SeriesColors(slots: 12)
        #expect(colors.slot(for: "id7") == 1)
        #expect(colors.slot(for: "id10") == 2)
        #expect(colors.slot(for: "id2") == 3)
        // Wrapping past the last slot, and the hash slot once every slot is taken.
        var three = SeriesColors(slots: 3)
        let names = ["p", "q", "r", "s"]
        let slots = names.map { three.slot(for: $0) }
        #expect(Set(slots.prefix(3)) == [0, 1, 2])
        #expect(slots[3] == Int(SeriesColors.hash("s") % 3))
    }

    @Test func aSlotOnceGivenNeverChanges() {
        var colors = SeriesColors(slots: 12)
        let first = ["a", "b", "c"].map { colors.slot(for: $0) }
        for i in 0..<30 { _ = colors.slot(for: "other-\(i)") }   // fills every slot, and more
        #expect(["a", "b", "c"].map { colors.slot(for: $0) } == first)
        // Asked again in another order, or after others, in a value that already knows them: the same.
        #expect(["c", "a", "b"].map { colors.slot(for: $0) } == [first[2], first[0], first[1]])
        // In a new value with no collisions, each gets its hash slot, as in any other process.
        var fresh = SeriesColors(slots: 12)
        for id in ["a", "b", "c"] where Set(["a", "b", "c"].map { SeriesColors.hash($0) % 12 }).count == 3 {
            #expect(fresh.slot(for: id) == Int(SeriesColors.hash(id) % 12))
        }
    }

    // MARK: SVGPlot

    @Test func documentParsesWithEverySeriesAndItsBand() throws {
        let plot = SVGPlot(title: "t", xLabel: "step", yLabel: "loss", series: [
            PlotSeries(name: "one", color: "#4e79a7", points: [(0, 1), (1, 0.5), (2, 0.25)], band: [(0, 0.9, 1.1), (1, 0.4, 0.6), (2, 0.2, 0.3)]),
            PlotSeries(name: "two", color: "#f28e2b", points: [(0, 2), (2, 1)], dash: "6 3"),
        ])
        let svg = plot.render()
        let c = try #require(SVGContents.parse(svg))
        #expect(c.root == "svg")
        #expect(c.series == ["one", "two"])
        #expect(c.bands == 1)
        #expect(c.polylines.count == 2)
        #expect(svg.contains("fill-opacity=\"0.2\"") && svg.contains("stroke-dasharray=\"6 3\""))
        #expect(svg.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""))
        // Title, axis labels and legend names are text of the document.
        for t in ["t", "step", "loss", "one", "two"] { #expect(c.text.contains(t)) }
        // Every coordinate has at most two decimals.
        #expect(svg.firstMatch(of: /[0-9]\.[0-9]{3}/) == nil)
    }

    @Test func hostileNamesAreEscaped() throws {
        let hostile = "a<b & \"c\"\u{1B}'d'\u{7}"
        let plot = SVGPlot(title: hostile, xLabel: "<x>", yLabel: "&y", series: [
            PlotSeries(name: hostile, color: "\"/><script>", points: [(0, 1), (1, 2)], dash: "1\"/><x"),
        ])
        let svg = plot.render()
        let c = try #require(SVGContents.parse(svg))
        #expect(c.series == ["a<b & \"c\"'d'"])
        #expect(!svg.contains("\u{1B}") && !svg.contains("\u{7}") && !svg.contains("<b") && !svg.contains("<script"))
        #expect(svg.contains("a&lt;b &amp; &quot;c&quot;&apos;d&apos;"))
        #expect(c.text.contains("a<b & \"c\"'d'") && c.text.contains("<x>") && c.text.contains("&y"))
    }

    @Test func anEmptyPlotSaysNoData() throws {
        for plot in [SVGPlot(), SVGPlot(title: "empty", series: [PlotSeries(name: "nan", color: "#000", points: [(0, .nan), (.infinity, 1)])])] {
            let svg = plot.render()
            let c = try #require(SVGContents.parse(svg))
            #expect(c.text.contains("no data"))
            #expect(c.series.count == plot.series.count)
            #expect(c.polylines.isEmpty)
        }
    }

    @Test func nonFinitePointsBreakTheLine() throws {
        let plot = SVGPlot(series: [PlotSeries(name: "gappy", color: "#123456",
                                               points: [(0, 1), (1, 2), (2, .nan), (3, 3), (4, .infinity), (5, 4), (6, 5)],
                                               band: [(0, 0, 2), (1, .nan, 3), (2, 1, 2), (3, 1, 4)])])
        let svg = plot.render()
        let c = try #require(SVGContents.parse(svg))
        #expect(c.polylines.map(\.count) == [2, 2])          // 0–1 and 5–6; 3 stands alone
        #expect(c.circles == 5)                              // few points: each marked
        #expect(!svg.lowercased().contains("nan") && !svg.contains("inf"))
        // The band's gap splits it: one closed stretch (2–3); 0 alone is not a polygon.
        #expect(svg.components(separatedBy: " Z").count - 1 == 1)
    }

    @Test func ticksAreRound() {
        let a = ChartAxis.linear(0.1106, 0.9067, target: 6)
        #expect(a.lo == 0 && abs(a.hi - 1) < 1e-12)
        #expect(a.ticks.map(\.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let steps = ChartAxis.linear(10, 2810, target: 5)
        #expect(steps.lo == 0 && steps.hi == 3000 && steps.ticks.map(\.label) == ["0", "1000", "2000", "3000"])
        let flat = ChartAxis.linear(5, 5, target: 5)
        #expect(flat.lo < 5 && flat.hi > 5 && flat.ticks.count >= 2)
        let log = ChartAxis.logarithmic(0.003, 0.4)
        #expect(log.lo == 0.001 && log.hi == 1 && log.ticks.map(\.label).prefix(4) == ["0.001", "0.01", "0.1", "1"])
        let narrowLog = ChartAxis.logarithmic(2, 30)
        #expect(narrowLog.ticks.map(\.label) == ["1", "2", "5", "10", "20", "50", "100"])
        for step in [0.1327, 0.34, 7, 4100] {
            let s = ChartAxis.niceStep(step * 6, target: 6)
            let m = s / pow(10, floor(log10(s) + 1e-9))
            #expect([1.0, 2, 5].contains { abs($0 - m) < 1e-9 }, "\(s)")
        }
    }

    @Test func logPlotLeavesOutNonPositiveValues() throws {
        let svg = SVGPlot(yLabel: "lr", logY: true, series: [PlotSeries(name: "lr", color: "#000000", points: [(0, 0.1), (1, 0), (2, 0.01), (3, 0.001)])]).render()
        let c = try #require(SVGContents.parse(svg))
        #expect(c.polylines.map(\.count) == [2])
    }

    @Test func numbersHaveAtMostTwoDecimals() {
        #expect(SVGPlot.number(12) == "12" && SVGPlot.number(12.5) == "12.5" && SVGPlot.number(-3.254) == "-3.25")
        #expect(SVGPlot.number(0.004) == "0" && SVGPlot.number(-0.004) == "0" && SVGPlot.number(0.07) == "0.07" && SVGPlot.number(-1.1) == "-1.1")
        #expect(SVGPlot.number(.nan) == "0" && SVGPlot.number(1e300) == "10000000")
        #expect(SVGPlot.number(3.26, decimals: 1) == "3.3" && SVGPlot.number(-0.94, decimals: 1) == "-0.9" && SVGPlot.point(1.04, 2, ",") == "1,2")
    }

    // MARK: Figures of runs

    /// The gradient ablation kept in the repository: seven groups of three seeds.
    @Test func gradientAblationFigure() throws {
        let dirs = RunReader.runDirectories(in: Self.resultsDirectory)
        #expect(dirs.count == 21)
        let runs = try dirs.map { try RunReader.read(directory: $0) }
        let plot = SVGPlot(runs: runs, metric: .testAccuracy, x: .epoch, grouped: true, title: "Gradient ablation")
        let svg = plot.render()
        let c = try #require(SVGContents.parse(svg))
        #expect(c.series == ["cnn", "fp·adaptive", "fp·fixed", "fp·scaled", "sign·adaptive", "sign·fixed", "sign·scaled"])
        #expect(c.bands == 7)
        #expect(svg.utf8.count < 200_000, "\(svg.utf8.count) bytes")
        // The mean of each group at each epoch is the mean of its seeds' accuracies.
        let cnn = plot.series[0]
        let seeds = runs.filter { $0.config.name.hasPrefix("gradient-ablation-cnn-") }
        let atOne = seeds.map { $0.evals.first { $0.epoch == 1 }!.testAccuracy }
        #expect(abs(cnn.points[0].y - atOne.reduce(0, +) / 3) < 1e-12 && cnn.band[0].lo == atOne.min() && cnn.band[0].hi == atOne.max())
        // Each group has its own colour.
        #expect(Set(plot.series.map(\.color)).count == 7 && plot.series.allSatisfy { $0.dash == nil })

        let perRun = SVGPlot(runs: runs, metric: .trainingLoss, x: .step, grouped: false, title: "loss").render()
        let r = try #require(SVGContents.parse(perRun))
        #expect(r.series == runs.map(\.config.name))
        #expect(r.bands == 0 && perRun.utf8.count < 200_000)
    }

    @Test func noRunsMakeAnEmptyFigure() throws {
        for grouped in [false, true] {
            let plot = SVGPlot(runs: [], metric: .testAccuracy, x: .step, grouped: grouped, title: "none")
            #expect(plot.series.isEmpty)
            #expect(try #require(SVGContents.parse(plot.render())).text.contains("no data"))
        }
    }

    /// More series than colours: the later ones that share a colour are dashed.
    @Test func seriesBeyondTwelveColoursAreDashed() {
        var runs: [RunSnapshot] = []
        for i in 0..<14 {
            var s = RunSnapshot(config: ExperimentConfig(name: "run-\(i)"))
            s.directory = "/runs/run-\(i)"
            s.steps = [StepRecord(step: 1, epoch: 0.1, loss: 1, learningRate: 0.1, imagesPerSecond: 1, batchAccuracy: 0.5, time: 1)]
            runs.append(s)
        }
        let plot = SVGPlot(runs: runs, metric: .trainingLoss, x: .step, grouped: false, title: "")
        #expect(plot.series.count == 14)
        #expect(plot.series.prefix(12).allSatisfy { $0.dash == nil })
        #expect(plot.series.suffix(2).allSatisfy { $0.dash != nil })
        #expect(Set(plot.series.prefix(12).map(\.color)).count == 12)
    }
}
