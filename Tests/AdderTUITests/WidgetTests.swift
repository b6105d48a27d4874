import Foundation
import Testing
import AdderTestSupport
@testable import AdderTUI
@testable import AdderTrain

@Suite("Widgets on the cell grid")
struct WidgetTests {
    /// DESIGN.md §3: dot (row, column) bits (0,0)=0x01 (1,0)=0x02 (2,0)=0x04 (3,0)=0x40
    /// (0,1)=0x08 (1,1)=0x10 (2,1)=0x20 (3,1)=0x80, on U+2800.
    @Test func brailleEncodingOfKnownPoints() {
        let expected: [((Int, Int), UInt32)] = [((0, 0), 0x01), ((0, 1), 0x02), ((0, 2), 0x04), ((0, 3), 0x40),
                                                 ((1, 0), 0x08), ((1, 1), 0x10), ((1, 2), 0x20), ((1, 3), 0x80)]
        for ((x, y), bit) in expected {
            var c = BrailleCanvas(columns: 1, rows: 1)
            c.set(x, y)
            #expect(c.character(column: 0, row: 0, unicode: true) == Unicode.Scalar(0x2800 + bit)!, "dot x=\(x) y=\(y)")
        }
        var full = BrailleCanvas(columns: 2, rows: 1)
        for x in 0..<2 { for y in 0..<4 { full.set(x, y) } }
        full.set(3, 0)
        #expect(full.character(column: 0, row: 0, unicode: true) == "⣿")
        #expect(full.character(column: 1, row: 0, unicode: true) == "⠈")
        #expect(full.character(column: 1, row: 0, unicode: false) == "*")
        // Out-of-range dots are ignored; a diagonal line lights one dot per row.
        var line = BrailleCanvas(columns: 2, rows: 1)
        line.set(-1, 0); line.set(4, 0)
        line.line(0, 0, 3, 3)
        #expect(line.character(column: 0, row: 0, unicode: true) == Unicode.Scalar(0x2800 + 0x01 + 0x10)!)
        #expect(line.character(column: 1, row: 0, unicode: true) == Unicode.Scalar(0x2800 + 0x04 + 0x80)!)
    }

    @Test func lineChartHasAxesLabelsLegendAndMarkers() {
        var grid = Grid(width: 50, height: 12)
        var chart = LineChart(title: "loss", series: [
            .init(name: "a", color: .cyan, points: (0...10).map { (Double($0 * 10), 2.0 - Double($0) * 0.1) }),
            .init(name: "b", color: .magenta, points: (0...10).map { (Double($0 * 10), 1.5) }),
        ])
        chart.markers = [.init(x: 50, color: .cyan, label: "g")]
        chart.glyphs = Glyphs(unicode: true); chart.color = true; chart.render(into: &grid, area: Rect(x: 0, y: 0, width: 50, height: 12))
        #expect(grid.row(0).hasPrefix("loss  ●a ●b"))
        #expect(grid[6, 0].style.foreground == .cyan && grid[9, 0].style.foreground == .magenta)
        let text = grid.text
        // y labels at round values, on the rows their dots are drawn in (b's line at 1.5).
        #expect((1...10).map { String(grid.row($0).prefix(8)) } == ["   2.0 ┤", "       │", "       │", "       │", "   1.5 ┤", "       │", "       │", "       │", "       │", "   1.0 ┤"])
        #expect(grid.row(5) == "   1.5 ┤⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣉⣑⣒⣤⣄⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀")
        #expect(grid.row(11) == "       └0──────────────────step────────────────100")
        #expect(text.contains("┊") && text.contains("g"))          // the marker column and its label
        #expect(text.unicodeScalars.contains { $0.value >= 0x2801 && $0.value <= 0x28FF })
    }

    @Test func lineChartTooSmallOrEmptySaysSo() {
        var tiny = Grid(width: 10, height: 3)
        LineChart(title: "loss", series: []).render(into: &tiny, area: Rect(x: 0, y: 0, width: 10, height: 3))
        #expect(tiny.row(0) == "loss (too…")
        var empty = Grid(width: 40, height: 8)
        LineChart(title: "acc", series: []).render(into: &empty, area: Rect(x: 0, y: 0, width: 40, height: 8))
        #expect(empty.text.contains("no data yet"))
    }

    @Test func logScaleAndASCIIFallback() {
        var grid = Grid(width: 40, height: 10)
        var chart = LineChart(title: "loss", series: [.init(name: "a", color: .red, points: [(0, 100), (1, 10), (2, 1), (3, 0.1)])])
        chart.logY = true
        chart.glyphs = Glyphs(unicode: false); chart.color = false; chart.render(into: &grid, area: Rect(x: 0, y: 0, width: 40, height: 10))
        let text = grid.text
        #expect(text.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(text.contains("*") && text.contains("|") && text.contains("+"))
        #expect(grid[6, 0].style.foreground == nil)               // no colour
        // Log scale: a label at each decade inside the range, each on the row of its dots.
        #expect((1...8).map { String(grid.row($0).prefix(8)) } == ["   100 +", "       |", "    10 +", "       |", "       |", "     1 +", "       |", "   0.1 +"])
    }

    @Test func sparklineProgressAndHeatStrip() {
        let g = Glyphs(unicode: true)
        #expect(Widgets.sparkline([1, 2, 3, 4, 5, 6, 7, 8], width: 8, glyphs: g) == "▁▂▃▄▅▆▇█")
        #expect(Widgets.sparkline([5, 5], width: 4, glyphs: g) == "▅▅  ")
        #expect(Widgets.sparkline(Array(repeating: 1, count: 20) + [9], width: 3, glyphs: g) == "▁▁█")
        #expect(Widgets.progressBar(0.5, width: 12, glyphs: g) == "[█████░░░░░]")
        #expect(Widgets.progressBar(1.7, width: 6, glyphs: Glyphs(unicode: false)) == "[####]")
        #expect(Widgets.progressBar(.nan, width: 6, glyphs: Glyphs(unicode: false)) == "[....]")
        let strip = Widgets.heatStrip(rows: [[1, 10, 100, 1000], [1000, 1000], []], width: 4, glyphs: g)
        #expect(strip[0] == "░▒▓█")
        #expect(strip[1] == "██  ")
        #expect(strip[2] == "    ")
        #expect(Widgets.heatStrip(rows: [[1, 100]], width: 2, glyphs: Glyphs(unicode: false))[0] == ".#")
    }

    @Test func truncationAndClipping() {
        #expect(Grid.fit("quickstart-full-precision", 10) == "quickstar…")
        #expect(Grid.fit("abc", 5, alignRight: true) == "  abc")
        #expect(Grid.fit("abcdef", 4, unicode: false) == "abc~")
        var grid = Grid(width: 5, height: 1)
        #expect(grid.put(3, 0, "hello") == 2)
        #expect(grid.row(0) == "   he")
        grid.put(0, 5, "off the grid")
        #expect(grid.row(0) == "   he")
        var boxed = Grid(width: 8, height: 3)
        Box(title: "a long title", glyphs: Glyphs(unicode: false)).render(into: &boxed, area: Rect(x: 0, y: 0, width: 8, height: 3))
        #expect(boxed.row(0) == "+- a l-+")
        #expect(boxed.row(1) == "|      |")
    }

    @Test func debiasedEMASmoothing() {
        // TensorBoard's form: the first value is unchanged, constants stay constant.
        #expect(smoothed([3, 3, 3], weight: 0.9).allSatisfy { abs($0 - 3) < 1e-12 })
        let s = smoothed([1, 0], weight: 0.5)
        #expect(s[0] == 1 && abs(s[1] - 1.0 / 3) < 1e-12)   // (0.5·0.5·1 + 0.5·0)/(1 − 0.25)
        #expect(smoothed([1, 2], weight: 0) == [1, 2])
    }
}

@Suite("Layout")
struct LayoutTests {
    @Test func rowsAndColumnsShareWhatTheFixedSizesLeave() {
        let area = Rect(x: 2, y: 1, width: 11, height: 20)
        #expect(Layout.rows(area, [.fixed(5), .fill, .fixed(1)]) == [Rect(x: 2, y: 1, width: 11, height: 5), Rect(x: 2, y: 6, width: 11, height: 14),
                                                                       Rect(x: 2, y: 20, width: 11, height: 1)])
        #expect(Layout.columns(area, [.fill, .fill]) == [Rect(x: 2, y: 1, width: 6, height: 20), Rect(x: 8, y: 1, width: 5, height: 20)])
        // More asked than there is: the last parts get what remains, never a negative size.
        #expect(Layout.rows(Rect(x: 0, y: 0, width: 4, height: 6), [.fixed(4), .fixed(4), .fill]) == [Rect(x: 0, y: 0, width: 4, height: 4),
                Rect(x: 0, y: 4, width: 4, height: 2), Rect(x: 0, y: 6, width: 4, height: 0)])
    }
}

extension LayoutTests {
    /// Rows go where there is content: no panel keeps rows it would leave empty while another
    /// is cut, and at the 60×18 minimum each panel still shows a row of its content.
    @Test func panelsAreSizedByTheirContent() {
        // 60×18 (16 body rows), 21 runs listed flat, 5 layers: the minimums.
        #expect(DashboardView.heights(body: 16, runsWant: 24, layersWant: 9) == (4, 7, 5))
        // 80×24: a third each for runs and layers.
        #expect(DashboardView.heights(body: 22, runsWant: 24, layersWant: 9) == (7, 8, 7))
        // 160×50: the layers panel as tall as its 5 layers; the runs list takes the rows the
        // charts do not need, up to all 21 runs.
        #expect(DashboardView.heights(body: 48, runsWant: 24, layersWant: 9) == (20, 19, 9))
        #expect(DashboardView.heights(body: 48, runsWant: 10, layersWant: 9) == (10, 29, 9))
        #expect(DashboardView.heights(body: 58, runsWant: 24, layersWant: 9) == (24, 25, 9))
    }
}

@Suite("Dashboard craft")
struct CraftTests {
    /// A loss axis goes below zero only when the data does.
    @Test func nonNegativeDataKeepsTheAxisAtZero() {
        var grid = Grid(width: 40, height: 10)
        let chart = LineChart(title: "loss", series: [.init(name: "a", color: .cyan, points: (0...10).map { (Double($0), 2.0 - Double($0) * 0.2) })])
        chart.render(into: &grid, area: Rect(x: 0, y: 0, width: 40, height: 10))
        // Round labels, one format, the bottom one 0 (not −0.08).
        #expect((1...8).map { String(grid.row($0).prefix(8)) } == ["     2 ┤", "       │", "       │", "       │", "     1 ┤", "       │", "       │", "     0 ┤"])
    }

    /// Cycling a field back to the experiment's value leaves it unchanged (no override).
    @Test func aFieldSetBackIsUnchanged() throws {
        let dir = temporaryDirectory("launcher")
        try "name: quickstart\ndataset: synthetic\n".write(toFile: dir + "/quickstart.yaml", atomically: true, encoding: .utf8)
        var form = LauncherForm(directory: dir)
        _ = form.handle(.down)
        _ = form.handle(.right)
        #expect(form.fields[0].changed && form.overrides == ["gradient.filter=sign", "gradient.input=sign"])
        _ = form.handle(.left)
        #expect(!form.fields[0].changed && form.overrides.isEmpty)
        var st = DashboardState()
        st.overlay = .launcher(form)
        let rows = (0..<30).map { DashboardView.render(st, width: 100, height: 30).row($0) }
        let line = rows.first { $0.contains("gradient rule") } ?? "none"
        // The dialog's whole row: a space between the label and ◀, no "(changed)" any more.
        #expect(line.contains("│ ▶ gradient rule ◀ fullPrecision/hardTanh ▶" + String(repeating: " ", count: 27) + "│"), "\(line.debugDescription)")
    }
}

extension CraftTests {
    /// With LANG=C every string drawn goes through the ASCII fallback, messages included.
    @Test func asciiFallbackSpellsSymbolsOut() {
        var st = state([fakeRun("fp")], unicode: false)
        st.message = "η of fp → 0.25 · ok — ±‖α‖"
        let grid = DashboardView.render(st, width: 100, height: 30)
        #expect(grid.row(29) == " eta of fp -> 0.25 | ok - +/-|a|  |  smoothing 0.60 | linear | x: step | 0 compared".padding(toLength: 100, withPad: " ", startingAt: 0))
        #expect(!grid.text.unicodeScalars.contains { !$0.isASCII })
    }

    /// η is shown only where it acts: an adaptive AdderNet, not a CNN.
    @Test func etaOnlyWhereItActs() {
        var cnn = fakeRun("cnnrun")
        cnn.snapshot.config.adders = .cnn
        cnn.snapshot.gradientMode = .none
        let grid = DashboardView.render(state([cnn]), width: 100, height: 30)
        let title = (0..<30).map { grid.row($0) }.first { $0.contains("Layers of") }!
        #expect(title.hasPrefix("┌─ Layers of cnnrun · mode - ─"))
        let adder = DashboardView.render(state([fakeRun("fp")]), width: 100, height: 30)
        #expect((0..<30).map { adder.row($0) }.contains { $0.hasPrefix("┌─ Layers of fp · η=0.2 · mode fp/ht ─") })
    }

    /// A run directory deleted while the dashboard runs leaves the list on the next scan
    /// (the periodic one every 5 s, or r), not only after r.
    @Test func aDeletedRunDirectoryLeavesTheList() throws {
        let dir = temporaryDirectory("deleted")
        let results = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/experiments/results"
        let names = try FileManager.default.contentsOfDirectory(atPath: results).filter { $0.hasPrefix("gradient-ablation-cnn-s") }.sorted()
        for n in names { try FileManager.default.copyItem(atPath: results + "/" + n, toPath: dir + "/" + n) }
        let d = Dashboard(runsDirectory: dir, experimentsDirectory: "/nonexistent", unicode: true, color: false)
        while d.isReading { d.refresh() }
        d.refresh()
        #expect(d.state.runs.count == 3 && d.state.message == "read 3 run directories")
        try FileManager.default.removeItem(atPath: dir + "/" + names[1])
        d.scanRunsDirectory()
        #expect(d.state.runs.map { ($0.id as NSString).lastPathComponent } == [names[0], names[2]])
    }

    @Test func reReadingSaysWhatItRead() {
        let d = Dashboard(runsDirectory: temporaryDirectory("r"), experimentsDirectory: "/nonexistent", unicode: true, color: false)
        d.handle(.char("r"))
        #expect(d.state.message.hasPrefix("re-read ") && d.state.message.hasSuffix(": 0 run directories"))
    }
}

extension CraftTests {
    /// At 80×24 the layers that do not fit are counted on a line of their own (with six runs
    /// listed, the layers panel has its third of the screen).
    @Test func hiddenLayersAreCountedOnTheirOwnLine() {
        let grid = DashboardView.render(state(["fp", "b", "c", "d", "e", "f"].map { fakeRun($0) }), width: 80, height: 24)
        let rows = (0..<24).map { grid.row($0) }
        let more = rows.firstIndex { $0.hasPrefix("│+") }!
        #expect(rows[more] == "│+3 more layers" + String(repeating: " ", count: 64) + "│")
        #expect(rows[more - 1] == "│conv2            adder   fp/ht      1.67e-03     10.0       300     40.0      │")   // out std intact
    }
}

extension CraftTests {
    /// Text from files cannot drive the terminal: control characters and bidi overrides
    /// are drawn as "?", one cell each.
    @Test func controlCharactersAreNeverDrawn() {
        var grid = Grid(width: 12, height: 1)
        grid.put(0, 0, "a\u{1B}]0;x\u{07}b\u{202E}\u{85}\n")
        #expect(grid.row(0) == "a?]0;x?b??? ")
    }
}

extension CraftTests {
    /// One notation per number column: 0.0245 next to 7.80e-03 and 1.94e+04 was three.
    @Test func aNumberColumnHasOneNotation() {
        #expect(Widgets.numberColumn([0.2358, 0.3663, 0.5074, 0.2604, 0.1887], width: 9) == ["0.236", "0.366", "0.507", "0.260", "0.189"])
        #expect(Widgets.numberColumn([4.016, 5.948, 9.191, 6.04], width: 8) == ["4.02", "5.95", "9.19", "6.04"])
        #expect(Widgets.numberColumn([0.0245, 0.0078, 19400], width: 9) == ["2.45e-02", "7.80e-03", "1.94e+04"])
        #expect(Widgets.numberColumn([0.0245, 0.0781], width: 9) == ["0.0245", "0.0781"])
        #expect(Widgets.numberColumn([0, 1.5, .nan], width: 8) == ["0.00", "1.50", "nan"])
        #expect(Widgets.numberColumn([0, 0], width: 8) == ["0", "0"])
    }

    /// Events a column apart share one label: three η changes read "e" once, in either chart.
    @Test func markersCloseTogetherShareOneLabel() {
        var grid = Grid(width: 40, height: 6)
        var chart = LineChart(title: "loss", series: [.init(name: "a", color: .cyan, points: [(0, 1), (100, 1)])])
        chart.markers = [50.0, 51, 54, 90].map { .init(x: $0, color: .yellow, label: "eta") }
        chart.render(into: &grid, area: Rect(x: 0, y: 0, width: 40, height: 6))
        #expect(grid.row(1) == "   1.5 ┤                e┊          e   ")
    }

    /// The ends of an x axis are labelled alike: an epoch axis from 0.001 reads 0 … 3.
    @Test func xAxisEndsInOneFormat() {
        var grid = Grid(width: 40, height: 6)
        var chart = LineChart(title: "loss", series: [.init(name: "a", color: .cyan, points: [(0.001, 1), (3, 0.5)])])
        chart.xLabel = "epoch"
        chart.render(into: &grid, area: Rect(x: 0, y: 0, width: 40, height: 6))
        #expect(grid.row(5) == "       └0────────────epoch─────────────3")
    }

    /// One point (a single evaluation) is drawn at its x on an axis from 0, not on "156…157".
    @Test func aSinglePointStartsTheAxisAtZero() {
        var grid = Grid(width: 40, height: 6)
        LineChart(title: "acc", series: [.init(name: "a", color: .cyan, points: [(156, 0.5)])]).render(into: &grid, area: Rect(x: 0, y: 0, width: 40, height: 6))
        #expect(grid.row(5) == "       └0─────────────step───────────156")
        #expect((1...4).map { grid.row($0) } == ["       │                                ", "   0.6 ┤                               ⢀",
                                                 "   0.4 ┤                                ", "       │                                "])
    }

    /// Accuracy is labelled in percent, every label alike.
    @Test func accuracyAxisInPercent() {
        var grid = Grid(width: 40, height: 10)
        var chart = LineChart(title: "acc", series: [.init(name: "a", color: .cyan, points: [(0, 0.83), (10, 0.9)])])
        chart.percent = true
        chart.yRange = 0.8...1
        chart.render(into: &grid, area: Rect(x: 0, y: 0, width: 40, height: 10))
        #expect((1...8).map { String(grid.row($0).prefix(8)) } == ["  100% ┤", "       │", "   95% ┤", "   90% ┤", "       │", "   85% ┤", "       │", "   80% ┤"])
    }
}

extension CraftTests {
    /// A band is filled between its samples, not only at them: two samples span the plot.
    @Test func bandsAreFilledBetweenSamples() {
        var grid = Grid(width: 30, height: 8)
        let s = LineChart.Series(name: "g", color: .cyan, points: [(0, 0.5), (10, 0.5)], band: [(0, 0.0, 1.0), (10, 0.0, 1.0)])
        LineChart(title: "t", series: [s]).render(into: &grid, area: Rect(x: 0, y: 0, width: 30, height: 8))
        #expect(grid.row(2) == "       │⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕⢕")
        #expect(grid.row(4) == "   0.5 ┤⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝⢝", "the line through the band")
    }
}

extension CraftTests {
    /// Perfect accuracy keeps the accuracy axis at 1 (it once went to 2).
    @Test func accuracyAxisNeverAboveOne() {
        var run = fakeRun("perfect")
        run.snapshot.evals = run.snapshot.evals.map { var e = $0; e.testAccuracy = 1; return e }
        let grid = DashboardView.render(state([run]), width: 100, height: 30)
        let rows = (0..<30).map { grid.row($0) }
        let top = rows.first { $0.contains("test acc") }.flatMap { rows.firstIndex(of: $0) }!
        #expect(rows[top + 1] == "│       │⢢⡀                 g                    ││  100% ┤                   g             ⠁      │")
    }
}

extension CraftTests {
    /// The time axis leaves paused intervals out: a run paused from 10 s to 40 s has trained
    /// 20 s at 50 s; a pause not yet resumed stops the clock.
    @Test func trainingTimeLeavesPausesOut() {
        var run = fakeRun("p").snapshot
        run.events = [EventRecord(step: 10, kind: .pause, detail: "", time: 10), EventRecord(step: 10, kind: .resume, detail: "", time: 40),
                      EventRecord(step: 20, kind: .pause, detail: "", time: 60)]
        let map = XMapper(.time, run)
        #expect([5, 10, 25, 50, 60, 100].map(map.active) == [5, 10, 10, 20, 30, 30])
        #expect(map.x(step: 7, time: 50) == 20)
        #expect(XMapper(.epoch, run).x(step: 150, time: nil) == 1.5)
        let layered = XMapper(.time, run, needsStepTimes: true)
        #expect(layered.x(step: 1, time: nil) == 0.02 && layered.timeOf(0) == nil)
    }
}

extension CraftTests {
    /// A CNN experiment's launcher offers no adder fields; a long description wraps to three
    /// lines, the last ending in "…".
    @Test func launcherForACNN() throws {
        let dir = temporaryDirectory("launcher-cnn")
        try "name: quickstart\nadders: cnn\ndataset: synthetic\ndescription: \(String(repeating: "a long description ", count: 12))\n"
            .write(toFile: dir + "/quickstart.yaml", atomically: true, encoding: .utf8)
        let form = LauncherForm(directory: dir)
        #expect(form.fields.map(\.label) == ["lr", "epochs", "batch", "seed", "dataset"])
        var st = DashboardState()
        st.overlay = .launcher(form)
        let rows = (0..<30).map { DashboardView.render(st, width: 100, height: 30).row($0) }
        #expect(rows.filter { $0.contains("a long") } == ["│       │     │    a long description a long description a long description a long   │             │",
                                                          "│       │     │    description a long description a long description a long          │             │",
                                                          "│       │     │    description a long description a long description a long descrip… │             │"])
    }
}
