import Foundation
import Testing
import AdderTestSupport
import AdderCore
@testable import AdderTrain
@testable import AdderTUI

/// Seeded values: Laplace(0, b) by the inverse CDF, or N(0, σ²) by Box–Muller.
func distributionSample(_ n: Int, laplace: Bool, scale: Double, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    func uniform() -> Double { (Double(g.next() >> 11) + 0.5) / 9_007_199_254_740_992 }
    return (0..<n).map { _ in
        if laplace {
            let u = uniform() - 0.5
            return Float(-scale * (u < 0 ? -1 : 1) * log(1 - 2 * abs(u)))
        }
        let u1 = uniform(), u2 = uniform()
        return Float(scale * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

/// Histograms of a fake AdderNet (Laplace weights) or CNN (Gaussian weights): conv2 with
/// outputs, fc1 without.
func histogramRecord(laplace: Bool) -> HistogramRecord {
    HistogramRecord(step: 120, layers: ["conv2", "fc1"].enumerated().map { i, layer in
        LayerHistograms(name: layer, type: laplace && i == 0 ? "Adder2d" : (i == 0 ? "Conv2d" : "Linear"),
                        weights: Histogram(values: distributionSample(2400, laplace: laplace, scale: 0.05 * Double(i + 1), seed: UInt64(i + 1)))!,
                        outputs: i == 0 ? Histogram(values: distributionSample(4000, laplace: false, scale: 3, seed: 9).map { -abs($0) }) : nil)
    })
}

func histogramRun(_ name: String, laplace: Bool, state: RunState = .finished) -> RunEntry {
    var e = fakeRun(name, state: state, live: false)
    e.snapshot.histograms = histogramRecord(laplace: laplace)
    return e
}

@Suite("Distribution view")
struct DistributionViewTests {
    static func open(_ runs: [RunEntry], unicode: Bool = true, compared: Set<String> = [], outputs: Bool = false, layer: String? = nil) -> DashboardState {
        var st = state(runs, unicode: unicode)
        st.compared = compared
        var settings = DistributionViewSettings()
        settings.outputs = outputs
        settings.layer = layer
        st.distributionView = settings
        return st
    }

    static func rows(_ st: DashboardState, _ w: Int, _ h: Int, _ range: ClosedRange<Int>) -> [String] {
        let grid = DashboardView.render(st, width: w, height: h)
        return range.map { grid.row($0) }
    }

    /// The focused AdderNet's conv2 at 80×24: bars, the Laplace (solid) and Gaussian (dashed)
    /// curves over them, the range, and the fits in numbers — Laplace fits better.
    @Test func focusedRunAt80x24() {
        let adder = histogramRun("adder", laplace: true), cnn = histogramRun("cnn", laplace: false)
        #expect(Self.rows(Self.open([adder, cnn]), 80, 24, 6...22) == ["┌─ Weight distributions · v outputs · ← → layer · W closes ────────────────────┐",
            "│adder                                                                         │",
            "│conv2 adder weights · 2400 values · step 120                                  │",
            "│                                       ⣄                                      │",
            "│                                      ⡸⠈⡆                                     │",
            "│                                     ⢰⠁█⠘⡄                                    │",
            "│                                    ⢠⠃███⠱⡀                                   │",
            "│                                  ⢀⣠⠓⠂⠉⠁⠉⠁⠳⡄                                  │",
            "│                                ⡠⢂⠕⠁███████⠈⢏⠂⣀                               │",
            "│                              ⠔⢂⠔⠁███████████⠑⢄⠁⢄⡀                            │",
            "│                          ⣀⢄⣊⠥⠊⠁██████████████▇⠉⠒⠤⣒⠄⣀                         │",
            "│⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⡠⣤⡤⠤⠤⠤⠒⠚⠓⠉⠁██████████████████████▇⠉⠉⠓⠒⠢⠤⠤⠤⡤⣤⣄⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀│",
            "│-0.373                                 0                                 0.368│",
            "│─ Laplace  LL +1.315/value  b 0.0494  median 0.000707                         │",
            "│┄ Gaussian LL +1.244/value  σ 0.0697  mean 0.000679                           │",
            "│Laplace fits better by 0.070 nats/value                                       │",
            "└──────────────────────────────────────────────────────────────────────────────┘"])
    }

    /// Two compared runs side by side, in ASCII (LANG=C): the CNN's Gaussian weights and the
    /// AdderNet's Laplace weights, each identified.
    @Test func comparedRunsSideBySideInASCII() {
        let adder = histogramRun("adder", laplace: true), cnn = histogramRun("cnn", laplace: false)
        #expect(Self.rows(Self.open([adder, cnn], unicode: false, compared: [adder.id, cnn.id]), 80, 24, 6...22) == ["+- Weight distributions | v outputs | <- -> layer | W closes ------------------+",
            "|adder                                   cnn                                   |",
            "|conv2 adder weights | n=2400 | step 120 conv2 conv weights | n=2400 | step 120|",
            "|                                                                              |",
            "|                   *                                     **                   |",
            "|                   #*                                      *                  |",
            "|                  *##                                   *ooo*                 |",
            "|                 oooo*                               o**#=###*o.              |",
            "|                o*####*o                           oo*########**o             |",
            "|              o**######*o                        o***###########**o.          |",
            "|            o**=########***                  *****################******      |",
            "|*************=#############************ *****########################=-o******|",
            "|-0.373             0              0.368 -0.149           0               0.167|",
            "|* Laplace  LL +1.315/value  b 0.0494    * Laplace  LL +1.508/value  b 0.0407  |",
            "|o Gaussian LL +1.244/value  sd 0.0697   o Gaussian LL +1.564/value  sd 0.0507 |",
            "|Laplace fits better by 0.070 nats/value Gaussian better by 0.055 nats/value   |",
            "+------------------------------------------------------------------------------+"])
    }

    /// ← → chose fc1: the same layer in each compared run.
    @Test func theChosenLayerInEachComparedRun() {
        let adder = histogramRun("adder", laplace: true), cnn = histogramRun("cnn", laplace: false)
        #expect(Self.rows(Self.open([adder, cnn], compared: [adder.id, cnn.id], layer: "fc1"), 80, 24, 6...22) == ["┌─ Weight distributions · v outputs · ← → layer · W closes ────────────────────┐",
            "│adder                                   cnn                                   │",
            "│fc1 linear weights · n=2400 · step 120  fc1 linear weights · n=2400 · step 120│",
            "│                ⢠                                         ⣤                   │",
            "│                ⡎⡆                                       ⡸ ⢇                  │",
            "│               ⢠⠃⢣                                      ⢠⠃ ⠘⡄                 │",
            "│               ⡜█⠘⡄                                   ▂▁⡮⠂⠒⠂⠵⡀                │",
            "│              ⢠⠇⠉⠁⢣⡀                                  ⠔⡝████▁⠱⡢⡀              │",
            "│             ⣄⠏███⠈⢇⢄                               ⡠⢃⠎███████⠱⡁⢄             │",
            "│            ⢊⠜█████⠈⢎⠂                            ⡠⢂⠔⠁█████████⠈⠢⡁⡀           │",
            "│          ⢔⠥⠃████████⠣⢕⠄                        ⣠⡢⠒⠁█████████████⠈⠚⢆⣄▁        │",
            "│⣀⣀⣀⣀⣀⡤⠤⠤⠒⠋⠁████████████⠉⠓⠢⠤⠤⣄⣀⣀⣀⣀⣀⣀⣀⣀⣀⣀ ⣤⡤⣤⠤⠴⠖⠊⠉████████████████████▇⠉⠓⠒⠦⠤⣤⡤⣤⣄│",
            "│-0.603          0                 0.808 -0.333            0              0.352│",
            "│─ Laplace  LL +0.615/value  b 0.0994    ─ Laplace  LL +0.828/value  b 0.0804  │",
            "│┄ Gaussian LL +0.536/value  σ 0.142     ┄ Gaussian LL +0.879/value  σ 0.1     │",
            "│Laplace fits better by 0.079 nats/value Gaussian better by 0.051 nats/value   │",
            "└──────────────────────────────────────────────────────────────────────────────┘"])
    }

    /// v: the outputs, at 160×50.
    @Test func outputsAt160x50() {
        let adder = histogramRun("adder", laplace: true), cnn = histogramRun("cnn", laplace: false)
        let rows = Self.rows(Self.open([adder, cnn], compared: [adder.id, cnn.id], outputs: true), 160, 50, 6...48)
        #expect(rows == ["┌─ Output distributions · v weights · ← → layer · W closes ────────────────────────────────────────────────────────────────────────────────────────────────────┐",
                    "│adder                                                                           cnn                                                                           │",
                    "│conv2 adder outputs · 4000 values · step 120                                    conv2 conv outputs · 4000 values · step 120                                   │",
                    "│                                                                                                                                                              │",
                    "│                                                                ⣀                                                                              ⢀              │",
                    "│                                                               ⢀⠿⡀                                                                             ⡜⡄             │",
                    "│                                                               ⢸ ⡇                                                                            ⢀⠇⡇             │",
                    "│                                                               ⡎ ⢱                                                                            ⢸ ⢱             │",
                    "│                                                              ⢀⠇ ⠸⡀                                                                           ⡎ ⠸⡀            │",
                    "│                                                              ⢸   ⡇          ▅                                                               ⢀⠇  ⡇          ▂ │",
                    "│                                                              ⡎   ⢱          █▄                                                              ⢸   ⢸          █▁│",
                    "│                                                             ⢠⠃   ⠘⡄         ██                                                              ⡎   ⠘⡄         ██│",
                    "│                                                             ⡸     ⡇  ▃▃   ▁▁██                                                             ⢠⠃    ⡇  ▁▁     ██│",
                    "│                                                             ⡇     ⢸  ██  █████                                                             ⡸     ⢸  ██  ▅▆▆██│",
                    "│                                                            ⢸      ⠈⡆ ██▅ █████                                                             ⡇     ⠈⡆ ██▃ █████│",
                    "│                                                            ⡎       ⢱ ███ █████                                                            ⢸       ⢱ ███ █████│",
                    "│                                                           ⢠⠧⠄⠒⠂⢄   ⠘⡄███ █████                                                            ⡇⡠⠄⢄⡀   ⠘⡄███ █████│",
                    "│                                                          ⠔⡝  ▄ ▇⠁⠢⡀█⢣███▇█████                                                          ⡀⢺⠁ ▂ ▅⠑⠄ █⢣███▅█████│",
                    "│                                                        ⡰⠁⢠⠃  █▆█  ⠁⢄⠘⡄████████                                                         ⠔⠁⡎  █▄██ ⠱⡀⠘⡄████████│",
                    "│                                                       ⡄  ⡜ ▅▅███  █⠈⠆⢣████████                                                       ⢠⠂ ⢰⠁ ▃████ ██⢄⢣████████│",
                    "│                                                      ⠜  ⢰⠁ ██████████⢪⡆███████                                                       ⠁ ▃⡎  █████▆██⠈⠊⡆███████│",
                    "│                                                    ⢀⠆   ⡎ ▆███████████⢳███████                                                     ⡰⠁  ⡸ ▅▅██████████⢳███████│",
                    "│                                                    ⠊   ⡸███████████████⢧██████                                                    ⡀   ⢀⠇▆█████████████⡇██████│",
                    "│                                                  ⢀⠆   ⢠⠃███████████████⠘⡇█████                                                   ⡰⠁   ⡜███████████████⠸⣢█████│",
                    "│                                                  ⠊ ▇  ⡎▅████████████████⢱⢢████                                                    ▆  ⡸▄████████████████⢱⠃████│",
                    "│                                                 ⡄ ▄█ ⡜▄██████████████████⢣⠃███                                                 ⢠⠃▃█ ⢠⠃██████████████████⢣⢢███│",
                    "│                                                ⠜▆▆██⡰⠁████████████████████⢇⢢██                                                 ⠁▅██⢀⠎███████████████████⠈⢎⠆██│",
                    "│                                               ⡄ ███⢰⠁█████████████████████⠈⢆⠃█                                               ⢠⠃ ██⢀⠎▆████████████████████⠈⢆⢄█│",
                    "│                                              ⠜ ▆██⡠⠃███████████████████████⠈⢆⢢                                               ⠁ ▅█⢀⠎███████████████████████⠈⢎⠆│",
                    "│                                            ⢀⠄ ███⡰⠁█████████████████████████⠈⢢                                             ⡠⠃▇▇█⢀⠎█████████████████████████⠈⢆│",
                    "│                                            ⠊▅▁█⢀⠜█████████████████████████████                                            ⡀▄ ██⡠⠃████████████████████████████│",
                    "│                                          ⢠⠃███⡠⠊██████████████████████████████                                           ⠔⠁██⢀⠔⠁█████████████████████████████│",
                    "│                                     ▂   ⡀⠁▂█⢀⠜████████████████████████████████                                      ▁  ⢀⠆▂▁█⡠⠊███████████████████████████████│",
                    "│                                     █▅█⠊ █⡠⠒⠁█████████████████████████████████                                      █▅⡀⠁█⢀⠤⠊█████████████████████████████████│",
                    "│                                    ▃█⠔⠁⣀⠔⠊████████████████████████████████████                                    ▃▃⡀⠊⢀⡠⠔⠁███████████████████████████████████│",
                    "│                                 ▃▃⡀⣒⠥⠒⠉███████████████████████████████████████                                  ▂⢀⢄⣊⠤⠒⠁██████████████████████████████████████│",
                    "│                           ▄⢀⣀⣀⡤⠤⠒⠋⠉███████████████████████████████████████████                            ▄⣀⣀⣠⡤⠴⠒⠉⠁██████████████████████████████████████████│",
                    "│⣀⣀⣀⣀⣀⣀⣀⣀⣀⡤⣤⡤⣤⡤⣤⡤⣤⡤⣤⡤⣒⡒⡲⠖⠶⠍⠭⠋⠓⠁⠉████████████████████████████████████████████████ ⣀⣀⣀⣀⣀⣀⣀⣀⣀⡤⣤⡤⣤⡤⣤⡤⣤⡤⣤⡤⣒⡒⠶⠖⠶⠍⠝⠋⠒⠁⠁███████████████████████████████████████████████│",
                    "│-11.4                                                                    -4e-04 -11.4                                                                   -4e-04│",
                    "│─ Laplace  LL -2.048/value  b 1.43  median -2.09                                ─ Laplace  LL -2.048/value  b 1.43  median -2.09                              │",
                    "│┄ Gaussian LL -2.004/value  σ 1.8  mean -2.4                                    ┄ Gaussian LL -2.004/value  σ 1.8  mean -2.4                                  │",
                    "│Gaussian fits better by 0.043 nats/value                                        Gaussian fits better by 0.043 nats/value                                      │",
                    "└──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘"])
    }

    /// A run from before histograms were recorded, one still waiting for its first, and a
    /// layer without an output histogram: each says so.
    @Test func runsWithoutHistogramsSaySo() {
        let st = Self.open([fakeRun("old", state: .finished, live: false), fakeRun("live"), histogramRun("fc", laplace: true)],
                           compared: ["/runs/old", "/runs/live", "/runs/fc"], outputs: true, layer: "fc1")
        #expect(Self.rows(st, 120, 30, 6...28) == ["└──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘",
            "┌─ Output distributions · v weights · ← → layer · W closes ────────────────────────────────────────────────────────────┐",
            "│old                                     live                                    fc                                    │",
            "│no histograms recorded in this run      no histograms yet: the first comes at   fc1 linear: no output histogram at    │",
            "│directory: AdderLab writes              step 200 (histogramEvery)               step 120 (v shows the weights)        │",
            "│histograms.jsonl from this version on,                                                                                │",
            "│so runs trained before have none                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "│                                                                                                                      │",
            "└──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘"])
    }

    /// A histograms.jsonl with a bad line: the good record is shown, the bad line named under it.
    @Test func aBadLineIsNamedUnderTheChart() {
        var e = histogramRun("adder", laplace: true)
        e.snapshot.histogramProblem = "histograms.jsonl: line 3 unreadable, skipped"
        let rows = Self.rows(Self.open([e]), 80, 24, 18...21)
        #expect(rows == ["│─ Laplace  LL +1.315/value  b 0.0494  median 0.000707                         │",
                         "│┄ Gaussian LL +1.244/value  σ 0.0697  mean 0.000679                           │",
                         "│Laplace fits better by 0.070 nats/value                                       │",
                         "│histograms.jsonl: line 3 unreadable, skipped                                  │"])
    }

    /// The keys on run directories read from disk: W opens the view, → the next layer, v the
    /// outputs, Esc closes; a run of experiments/results (trained before histograms) says it has none.
    @Test func keysOnRunDirectoriesFromDisk() throws {
        let runs = temporaryDirectory("dist")
        let fm = FileManager.default
        let past = RunReader.runDirectories(in: ComparisonViewTests.results).filter { $0.contains("-cnn-s1-") || $0.contains("fullPrecision-adaptive-s1-") }
        #expect(past.count == 2)
        for dir in past { try fm.copyItem(atPath: dir, toPath: runs + "/" + (dir as NSString).lastPathComponent) }
        let withHistograms = runs + "/" + (past[1] as NSString).lastPathComponent
        try (JSON.encode(histogramRecord(laplace: true).json) + "\n").write(toFile: RunFiles(withHistograms).histograms, atomically: true, encoding: .utf8)
        let d = Dashboard(runsDirectory: runs, experimentsDirectory: "/nonexistent", unicode: true, color: false)
        while d.isReading { d.refresh() }
        d.refresh()
        d.handle(.char("t"))   // flat: one row per run
        d.handle(.char("C"))
        d.handle(.char("W"))
        #expect(d.state.distributionView == DistributionViewSettings())
        #expect(d.state.message == "weight distributions: v weights or outputs, ← → layer; c compares runs side by side")
        var screen = Self.rows(d.state, 80, 24, 6...9)
        #expect(screen == ["┌─ Weight distributions · v outputs · ← → layer · W closes ────────────────────┐",
                           "│gradient-ablation-cnn-s1                gradient-ablation-fullPrecision-adapti│",
                           "│no histograms recorded in this run      conv2 adder weights · n=2400 · step 1…│",
                           "│directory: AdderLab writes                                 ⡄                  │"])
        d.handle(.right)
        #expect(d.state.message == "layer fc1 (2 of 2)")
        d.handle(.char("v"))
        #expect(d.state.message == "the layer's outputs on the recorded step's batch")
        screen = Self.rows(d.state, 80, 24, 6...9)
        #expect(Array(screen[2...3]) == ["│no histograms recorded in this run      fc1 linear: no output histogram at    │",
                                         "│directory: AdderLab writes              step 120 (v shows the weights)        │"])
        d.handle(.left)
        screen = Self.rows(d.state, 80, 24, 6...8)
        #expect(screen[2] == "│no histograms recorded in this run      conv2 adder outputs · n=4000 · step 1…│")
        d.handle(.escape)
        #expect(d.state.distributionView == nil)
        // L and T replace it; W replaces them.
        d.handle(.char("W")); d.handle(.char("L"))
        #expect(d.state.distributionView == nil && d.state.layerView != nil)
        d.handle(.char("W"))
        #expect(d.state.distributionView != nil && d.state.layerView == nil)
    }
}
