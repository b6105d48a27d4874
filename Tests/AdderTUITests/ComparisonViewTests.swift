import AdderTestSupport
import AdderTrain
import AdderTUI
import Foundation
import Testing

/// The dashboard as a comparison instrument, on the gradient ablation in experiments/results.
@Suite("Comparing in the dashboard")
struct ComparisonViewTests {
    static var results: String { keptRuns("results") }

    func dashboard(color: Bool = false) -> Dashboard { readDashboard(ComparisonViewTests.results, color: color) }

    func rows(_ d: Dashboard, _ width: Int, _ height: Int) -> [String] { screenRows(d, width, height) }

    @Test func sevenGroupsWithTheirSpread() {
        let d = dashboard()
        let screen = rows(d, 160, 50)
        #expect(screen[0] == " AdderLab  21 runs in 7 groups, 0 training  ·  n new run  ? help  q quit                                                                                        ")
        #expect(Array(screen[2...9]) == ["│   group / run         state      progress       best %    final % mode       type    epoch model     adders strategy filter         img/s     ETA            │",
                                         "│▶  ▸ cnn (3)           3 finished [████████] 90.55±0.14 90.55±0.14 -          cnn     3.0/3 lenet5    cnn    adaptive fullPrecision  12592                    │",
                                         "│   ▸ fp·adaptive (3)   3 finished [████████] 89.90±0.13 89.90±0.13 fp/ht      adder   3.0/3 lenet5    paper  adaptive fullPrecision  11218                    │",
                                         "│   ▸ fp·fixed (3)      3 finished [████████] 84.25±1.17 84.25±1.17 fp/ht      adder   3.0/3 lenet5    paper  fixed    fullPrecision  10624                    │",
                                         "│   ▸ fp·scaled (3)     3 finished [████████] 89.03±0.43 89.03±0.43 fp/ht      adder   3.0/3 lenet5    paper  scaled   fullPrecision  10786                    │",
                                         "│   ▸ sign·adaptive (3) 3 finished [████████] 83.95±1.09 83.95±1.09 sign/ht    adder   3.0/3 lenet5    paper  adaptive sign            9729                    │",
                                         "│   ▸ sign·fixed (3)    3 finished [████████] 84.35±1.25 84.35±1.25 sign/ht    adder   3.0/3 lenet5    paper  fixed    sign            9842                    │",
                                         "│   ▸ sign·scaled (3)   3 finished [████████] 85.26±1.11 85.26±1.11 sign/ht    adder   3.0/3 lenet5    paper  scaled   sign            9602                    │"])
        let small = rows(d, 80, 24)
        #expect(Array(small[2...6]) == ["│   group / run         state      progress       best %    final % mode       │",
                                        "│▶  ▸ cnn (3)           3 finished [████████] 90.55±0.14 90.55±0.14 -          │",
                                        "│   ▸ fp·adaptive (3)   3 finished [████████] 89.90±0.13 89.90±0.13 fp/ht      │",
                                        "│   ▸ fp·fixed (3)      3 finished [████████] 84.25±1.17 84.25±1.17 fp/ht      │",
                                        "│   ▸ fp·scaled (3)     3 finished [████████] 89.03±0.43 89.03±0.43 fp/ht      │"])
        #expect(small[16] == "┌─ Layers of gradient-ablation-cnn-s1 (1 of 3 in cnn) · mode - ────────────────┐")
    }

    /// Enter opens a group (its runs below it, names never cut alike) and closes it again.
    @Test func aGroupOpensAndCloses() {
        let d = dashboard()
        d.handle(.down)
        d.handle(.enter)
        let open = rows(d, 160, 50)
        #expect(Array(open[3...8]) == ["│   ▸ cnn (3)                                     3 finished [████████] 90.55±0.14 90.55±0.14 -          cnn     3.0/3 lenet5    cnn    adaptive fullPrecision │",
                                       "│▶  ▾ fp·adaptive (3)                             3 finished [████████] 89.90±0.13 89.90±0.13 fp/ht      adder   3.0/3 lenet5    paper  adaptive fullPrecision │",
                                       "│     gradient-ablation-fullPrecision-adaptive-s1 finished*  [████████]      89.95      89.95 fp/ht      adder   3.0/3 lenet5    paper  adaptive fullPrecision │",
                                       "│     gradient-ablation-fullPrecision-adaptive-s2 finished*  [████████]      90.00      90.00 fp/ht      adder   3.0/3 lenet5    paper  adaptive fullPrecision │",
                                       "│     gradient-ablation-fullPrecision-adaptive-s3 finished*  [████████]      89.76      89.76 fp/ht      adder   3.0/3 lenet5    paper  adaptive fullPrecision │",
                                       "│   ▸ fp·fixed (3)                                3 finished [████████] 84.25±1.17 84.25±1.17 fp/ht      adder   3.0/3 lenet5    paper  fixed    fullPrecision │"])
        d.handle(.enter)
        #expect(d.state.rows.count == 7 && d.state.focusedGroup?.group.label == "fp·adaptive")
        // t: the flat list of all 21; at 80 columns the long names give way to short labels.
        d.handle(.char("t"))
        let flat = rows(d, 80, 24)
        #expect(flat[0] == " AdderLab  21 runs, 0 training  ·  n new run  ? help  q quit                    ")
        #expect(Array(flat[2...6]) == ["│   run              state     progress    best % final % mode       type      │",
                                       "│   cnn·s1           finished* [████████]   90.59   90.59 -          cnn       │",
                                       "│   cnn·s2           finished* [████████]   90.39   90.39 -          cnn       │",
                                       "│   cnn·s3           finished* [████████]   90.67   90.67 -          cnn       │",
                                       "│▶  fp·adaptive·s1   finished* [████████]   89.95   89.95 fp/ht      adder     │"])
    }

    /// o cycles the sort (best accuracy next); / filters by regular expression; Esc clears.
    @Test func sortAndFilter() {
        let d = dashboard()
        d.handle(.char("o"))
        #expect(d.state.message == "sorted by best accuracy")
        #expect(d.state.rows.compactMap { if case .group(let g) = $0 { return g.group.label } else { return nil } }
                == ["cnn", "fp·adaptive", "fp·scaled", "sign·scaled", "sign·fixed", "fp·fixed", "sign·adaptive"])
        d.handle(.char("/"))
        for c in "^.*sign" { d.handle(.char(c)) }
        d.handle(.enter)
        #expect(d.state.message == "filter /^.*sign: 9 of 21 runs")
        let screen = rows(d, 100, 30)
        #expect(screen[0] == " AdderLab  21 runs (9 shown) in 3 groups, 0 training  ·  n new run  ? help  q quit                  ")
        // The title, whatever the clone's path: a long runs directory gives way from its start,
        // so the view, the filter and the counts stay on screen.
        var long = d.state
        long.runsDirectory = "/home/ci/builds/some-organisation/a-long-checkout-directory/adderlab/experiments/results"
        #expect(DashboardView.render(long, width: 100, height: 30).row(1)
                == "┌─ Runs (…tory/adderlab/experiments/results) · grouped, by best accuracy, /^.*sign, 9 of 21 shown ─┐")
        long.runsDirectory = "runs"
        #expect(DashboardView.render(long, width: 100, height: 30).row(1)
                == "┌─ Runs (runs) · grouped, by best accuracy, /^.*sign, 9 of 21 shown ───────────────────────────────┐")
        #expect(Array(screen[2...6]) == ["│   group / run         state      progress       best %    final % mode       type    epoch       │",
                                         "│▶  ▸ sign·scaled (3)   3 finished [████████] 85.26±1.11 85.26±1.11 sign/ht    adder   3.0/3       │",
                                         "│   ▸ sign·fixed (3)    3 finished [████████] 84.35±1.25 84.35±1.25 sign/ht    adder   3.0/3       │",
                                         "│   ▸ sign·adaptive (3) 3 finished [████████] 83.95±1.09 83.95±1.09 sign/ht    adder   3.0/3       │",
                                         "└──────────────────────────────────────────────────────────────────────────────────────────────────┘"])
        d.handle(.escape)
        #expect(d.state.message == "filter cleared" && d.state.rows.count == 7)
        // Not a regular expression: matched as text, and said so while typing.
        d.handle(.char("/"))
        d.handle(.char("("))
        #expect(d.state.message == "filter: /( (not a regular expression; matched as text)  (Enter keeps it, Esc clears)")
        d.handle(.escape)
        #expect(d.state.filter.isEmpty && !d.state.editingFilter)
    }

    /// C compares every group: the charts draw seven means with their bands, in colours
    /// that are functions of the groups (not of their place), and the legend uses the labels.
    @Test func compareEveryGroupWithBands() {
        let d = dashboard(color: true)
        d.handle(.char("C"))
        #expect(d.state.message == "comparing 7 groups (C again clears)")
        #expect(d.state.chartItems.map(\.label) == ["cnn", "fp·adaptive", "fp·fixed", "fp·scaled", "sign·adaptive", "sign·fixed", "sign·scaled"])
        #expect(d.state.chartItems.allSatisfy { $0.isGroup && $0.entries.count == 3 })
        let screen = rows(d, 160, 50)
        #expect(Array(screen[11...12]) == ["┌──────────────────────────────────────────────────────────────────────────────┐┌──────────────────────────────────────────────────────────────────────────────┐",
                                           "│loss  ●cnn ●fp·adaptive ●fp·fixed ●fp·scaled ■sign·adaptive ●sign·fixed ▲sign·││test acc  ●cnn ●fp·adaptive ●fp·fixed ●fp·scaled ■sign·adaptive ●sign·fixed ▲s│"])
        d.handle(.char("C"))
        #expect(d.state.compared.isEmpty && d.state.message == "comparison cleared: the charts follow the focus")
    }

    /// Adding and removing runs leaves every other run's colour as it was.
    @Test func coloursStayWithTheirRuns() {
        func entry(_ name: String) -> RunEntry { fakeRun(name) }
        var st = DashboardState()
        st.grouped = false
        st.runs = ["a", "b", "c", "d"].map(entry)
        st.assignColors()
        let before = Dictionary(uniqueKeysWithValues: st.runs.map { ($0.id, st.color(for: $0.id)) })
        #expect(Set(before.values).count == 4, "four runs, four colours")
        st.runs = [entry("zz"), entry("a"), entry("c"), entry("e"), entry("d")]   // b removed, zz and e added, order changed
        st.assignColors()
        for id in ["a", "c", "d"].map({ "/runs/\($0)" }) { #expect(st.color(for: id) == before[id]) }
        #expect(Set(st.runs.map { st.color(for: $0.id) }).count == 5, "the new runs take free colours")
    }

    /// Without colour the series differ by glyph, in the legend and along the lines.
    @Test func withoutColourSeriesHaveGlyphs() {
        let d = dashboard(color: false)
        d.handle(.char("C"))
        let screen = rows(d, 160, 50)
        #expect(Array(screen[11...12]) == ["┌──────────────────────────────────────────────────────────────────────────────┐┌──────────────────────────────────────────────────────────────────────────────┐",
                                           "│loss  ●cnn ○fp·adaptive ◆fp·fixed ◇fp·scaled ■sign·adaptive □sign·fixed ▲sign·││test acc  ●cnn ○fp·adaptive ◆fp·fixed ◇fp·scaled ■sign·adaptive □sign·fixed ▲s│"])
        // Each line carries its glyph: the accuracy chart's first column of data.
        #expect(Array(screen[13...18]).map { String(Array($0)[103]) } == [" ",
            " ",
            " ",
            " ",
            " ",
            " "])
    }
}

extension ComparisonViewTests {
    /// p writes what the charts show as SVG under <runs>/figures/ and says where.
    @Test func exportTheChartsAsSVG() throws {
        let runs = temporaryDirectory("export")
        let fm = FileManager.default
        for d in RunReader.runDirectories(in: ComparisonViewTests.results).filter({ $0.contains("-cnn-") || $0.contains("sign-adaptive") }) {
            try fm.copyItem(atPath: d, toPath: runs + "/" + (d as NSString).lastPathComponent)
        }
        let d = Dashboard(runsDirectory: runs, experimentsDirectory: "/nonexistent", unicode: true, color: true)
        while d.isReading { d.refresh() }
        d.refresh()
        d.handle(.char("C"))
        d.handle(.char("p"))
        let figures = try fm.contentsOfDirectory(atPath: runs + "/figures").sorted()
        #expect(figures.count == 2 && figures[0].hasPrefix("charts-") && figures[0].hasSuffix("-accuracy.svg") && figures[1].hasSuffix("-loss.svg"))
        let base = runs + "/figures/" + figures[1].dropLast("-loss.svg".count)
        #expect(d.state.message == "wrote \(base)-loss.svg and -accuracy.svg (2 series)")
        for f in figures {
            let svg = try String(contentsOfFile: runs + "/figures/" + f, encoding: .utf8)
            let parsed = try #require(SVGContents.parse(svg), "\(f) is not XML")
            #expect(parsed.series == ["cnn", "sign·adaptive"])
            #expect(parsed.bands == 2, "each group has its band")
            // The colours are those adderlab plot gives the same groups.
            let plot = SVGPlot(runs: d.state.runs.map(\.snapshot), metric: .testAccuracy, x: .step, grouped: true, title: "")
            #expect(plot.series.map(\.color).allSatisfy { svg.contains($0) })
        }
        // Nothing in the charts: nothing written, and said so.
        d.handle(.char("C"))
        let empty = Dashboard(runsDirectory: temporaryDirectory("none"), experimentsDirectory: "/nonexistent", unicode: true, color: true)
        empty.handle(.char("p"))
        #expect(empty.state.message == "nothing to export: no run or group is shown in the charts")
    }
}

extension ComparisonViewTests {
    /// L opens the layer view: every layer of the focused run (one series per layer), or,
    /// with m, one layer across the compared groups — conv2's ‖∂L/∂F‖ under fp and sign.
    @Test func theLayerViewInBothModes() {
        let d = dashboard(color: true)
        d.handle(.down)   // fp·adaptive
        d.handle(.char("L"))
        let first = d.state.focusedGroup!.entries[0].snapshot
        let layers = LayerQuantity.gradientNorm.layers(first)
        let every = rows(d, 160, 50)
        #expect(layers == ["conv1", "conv2", "conv3", "fc1", "fc2"])
        #expect(Array(every[11...12]) == ["┌─ Layers over training · v quantity · m one layer across runs · L closes ─────────────────────────────────────────────────────────────────────────────────────┐",
                                         "│‖∂L/∂F‖ per layer of gradient-ablation-fullPrecision-adaptive-s1 (log)  ●conv1 ●conv2 ●conv3 ●fc1 ●fc2                                                        │"])
        d.handle(.char("C"))
        d.handle(.char("m"))
        d.handle(.right)
        #expect(d.state.message == "layer \(layers[1])")
        let across = rows(d, 160, 50)
        #expect(Array(across[11...12]) == ["┌─ Layers over training · v quantity · m every layer · ← → layer · L closes ───────────────────────────────────────────────────────────────────────────────────┐",
                                           "│conv2 ‖∂L/∂F‖ across the compared runs (log)  ●cnn ●fp·adaptive ●fp·fixed ●fp·scaled ■sign·adaptive ●sign·fixed ▲sign·scaled                                  │"])
        d.handle(.char("v"))
        #expect(d.state.message == "layer view: α (adaptive learning rate)")
        d.handle(.escape)
        #expect(d.state.layerView == nil)
    }
}

extension ComparisonViewTests {
    /// T shows the summary table: what compare --markdown prints, with Δ to a baseline (b),
    /// in the runs panel's order.
    @Test func theSummaryTable() {
        let d = dashboard()
        d.handle(.char("T"))
        d.handle(.char("b"))
        #expect(d.state.message == "baseline: cnn")
        d.handle(.char("o"))
        let screen = rows(d, 160, 50)
        #expect(Array(screen[11...19]) == ["┌─ Summary of 7 groups · b sets the baseline (cnn) · o sorts · T closes ───────────────────────────────────────────────────────────────────────────────────────┐",
                "│group         adders strategy filter         runs   final test acc  Δ final    best test acc       final loss time/run  img/s  µJ/img   J/run                 │",
                "│cnn           cnn    adaptive fullPrecision   3/3    90.55 ± 0.14%     base    90.55 ± 0.14%  0.2711 ± 0.0529     16 s  12592    1.92    1.03                 │",
                "│fp·adaptive   paper  adaptive fullPrecision   3/3    89.90 ± 0.13%    -0.65    89.90 ± 0.13%  0.2916 ± 0.0433     19 s  11218    1.11   0.982                 │",
                "│fp·scaled     paper  scaled   fullPrecision   3/3    89.03 ± 0.43%    -1.52    89.03 ± 0.43%  0.3083 ± 0.0626     20 s  10786    1.11   0.982                 │",
                "│sign·scaled   paper  scaled   sign            3/3    85.26 ± 1.11%    -5.29    85.26 ± 1.11%  0.4137 ± 0.0569     22 s   9602    1.11   0.982                 │",
                "│sign·fixed    paper  fixed    sign            3/3    84.35 ± 1.25%    -6.20    84.35 ± 1.25%  0.4109 ± 0.0826     22 s   9842    1.11   0.982                 │",
                "│fp·fixed      paper  fixed    fullPrecision   3/3    84.25 ± 1.17%    -6.30    84.25 ± 1.17%  0.4405 ± 0.0866     20 s  10624    1.11   0.982                 │",
                "│sign·adaptive paper  adaptive sign            3/3    83.95 ± 1.09%    -6.60    83.95 ± 1.09%  0.4091 ± 0.0205     22 s   9729    1.11   0.982                 │"])
        // The same numbers as compare --markdown, row for row (in the sorted order).
        let md = Comparison(snapshots: d.state.runs.map(\.snapshot)).markdown()
        for g in d.state.summaryGroups {
            #expect(md.contains("| \(g.group.finalAccuracy!.text(percent: true)) | \(g.group.bestAccuracy!.text(percent: true)) | \(g.group.finalLoss!.text(percent: false)) |"))
        }
    }
}

extension ComparisonViewTests {
    /// ← → move a cursor over the charts; the legends show each series' value there, a
    /// group's with its spread; Esc hides it.
    @Test func theValueCursor() {
        let d = dashboard()
        d.handle(.down)      // fp·adaptive
        d.handle(.char("c"))
        d.handle(.down); d.handle(.down); d.handle(.down)   // sign·adaptive
        d.handle(.char("c"))
        d.handle(.right)
        #expect(d.state.cursor == 0.5)
        for _ in 0..<20 { d.handle(.right) }
        #expect(d.state.cursor == 1)
        let screen = rows(d, 160, 50)
        #expect(screen[12] == "│loss @ 2811  ●fp·adaptive 0.279 (0.246–0.311) ○sign·adaptive 0.433 (0.405–0.47││test acc @ 2811  ●fp·adaptive 89.90% (89.76%–90.00%) ○sign·adaptive 83.95% (83│")
        #expect(screen[13] == "│       │                                                                     │││  100% ┤                                                                     ││", "the cursor's column at the right end of both charts")
        d.handle(.escape)
        #expect(d.state.cursor == nil)
    }

    /// Keys that do not apply say why, instead of doing something else.
    @Test func keysThatDoNotApplySaySo() {
        let d = dashboard()
        d.handle(.enter)                      // on a group: opens it
        #expect(d.state.focusedGroup?.expanded == true)
        d.handle(.down)                       // its first run
        d.handle(.enter)                      // on a run of an open group: closes the group
        #expect(d.state.focusedGroup?.group.label == "cnn" && d.state.focusedGroup?.expanded == false)
        d.handle(.char("t"))
        d.handle(.enter)
        #expect(d.state.message == "Enter opens and closes groups; n opens the launcher")
        d.handle(.char("g"))
        #expect(d.state.message == "gradient-ablation-cnn-s1 has finished")
        d.handle(.char("o")); for _ in 0..<6 { d.handle(.char("o")) }
        #expect(d.state.message == "sorted as listed")
    }

    /// A pattern that makes a backtracking matcher spin (it froze the screen) is answered at once.
    @Test(.timeLimit(.minutes(1))) func aPathologicalFilterDoesNotHang() {
        let d = dashboard()
        d.handle(.char("/"))
        for c in "(.*)*(.*)*(.*)*z" { d.handle(.char(c)) }
        d.handle(.enter)
        #expect(d.state.message == "filter /(.*)*(.*)*(.*)*z: 0 of 21 runs")
        d.handle(.escape)
        d.handle(.char("/"))
        for c in "(.*)*(.*)*(.*)*scaled" { d.handle(.char(c)) }
        d.handle(.enter)
        #expect(d.state.message == "filter /(.*)*(.*)*(.*)*scaled: 6 of 21 runs")
    }
}
