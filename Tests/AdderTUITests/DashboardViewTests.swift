import Foundation
import Testing
import AdderTestSupport
import AdderCore
@testable import AdderTrain
@testable import AdderTUI

/// Run snapshots made up for the views: no training, no terminal.
func fakeRun(_ name: String, state: RunState = .running, steps: Int = 120, mode: String = "fullPrecision/hardTanh", live: Bool = true) -> RunEntry {
    var config = try! Experiment.parse(yaml: "name: \(name)\nepochs: 2").runs[0]
    config.name = name
    var s = RunSnapshot(config: config)
    s.state = state
    s.stepsPerEpoch = 100
    s.totalSteps = 200
    s.step = steps
    s.gradientMode = GradientMode(label: mode)!
    s.steps = (1...steps).map { (i: Int) -> StepRecord in
        let t = Double(i)
        let loss: Double = 2.3 * exp(-t / 40) + 0.1
        return StepRecord(step: i, epoch: t / 100, loss: loss, learningRate: 0.05, imagesPerSecond: 3000, batchAccuracy: 0.5, time: t * 0.02)
    }
    s.evals = [EvalRecord(step: 100, epoch: 1, testLoss: 0.4, testAccuracy: 0.873, testAccuracyBatchStatistics: 0.9,
                          trainAccuracy: 0.85, time: 2, drift: [DriftRecord(name: "bn2", meanGap: 0.8, logVarianceRatio: 0.3)])]
    let names = ["conv1", "conv2", "conv3", "fc1", "fc2"]
    s.layers = stride(from: 10, through: steps, by: 10).map { st in
        LayerRecord(step: st, layers: names.enumerated().map { i, n in
            LayerRecord.Layer(name: n, type: i == 1 || i == 2 ? "Adder2d" : (i == 0 ? "Conv2d" : "Linear"), gradNorm: 0.1 * Double(i + 1) / Double(st),
                            weightNorm: 10, alpha: i == 1 || i == 2 ? 300 : 1, outputMean: -3, outputStd: 40,
                            gradientRules: i == 1 || i == 2 ? GradientRules(label: mode) : nil)
        })
    }
    s.events = [EventRecord(step: 60, kind: .gradientMode, detail: "sign/sign", time: 1.2)]
    return RunEntry(id: "/runs/\(name)", snapshot: s, live: live)
}

/// A state showing `runs` as a flat list (the fake runs share a configuration, so grouped
/// they would be one group; the grouped view has tests of its own).
func state(_ runs: [RunEntry], unicode: Bool = true, grouped: Bool = false) -> DashboardState {
    var st = DashboardState()
    st.grouped = grouped
    st.runs = runs
    st.unicode = unicode
    return st
}

@Suite("Dashboard views")
struct ViewTests {
    @Test func layoutAt80x24() {
        let grid = DashboardView.render(state([fakeRun("fp"), fakeRun("sign", mode: "sign/sign"), fakeRun("old", state: .finished, live: false)]),
                                        width: 80, height: 24)
        let text = grid.text
        #expect(grid.row(0).hasPrefix(" AdderLab  3 runs, 2 training"))
        #expect((2...5).map { grid.row($0) } == ["│   run          state     progress    best % final % mode       type    epoch │",
                                                 "│▶  fp           running   [████░░░░]   87.30   87.30 fp/ht      adder   1.2/2 │",
                                                 "│   sign         running   [████░░░░]   87.30   87.30 sign/sign  adder   1.2/2 │",
                                                 "│   old          finished* [████░░░░]   87.30   87.30 fp/ht      adder   1.2/2 │"])
        #expect(text.contains("│loss ") && text.contains("│test acc "))
        #expect(text.contains("Layers of fp"))
        #expect(text.contains("conv2") && text.contains("adder"))
        #expect(grid.row(23).contains("smoothing 0.60"))
    }

    @Test func layoutAt160x50UsesTheSpace() {
        let grid = DashboardView.render(state([fakeRun("fp"), fakeRun("sign", mode: "sign/sign")]), width: 160, height: 50)
        let text = grid.text
        #expect(text.contains("grad-norm heat (layer × time)"))     // the heat strip appears when wide
        #expect(text.contains("img/s") && text.contains("ETA") && text.contains("model"))
        #expect(text.contains("BN: test acc 87.30% with running stats, 90.00% with batch stats; largest drift bn2"))
        #expect(text.contains("┊"))                                   // the gradient-mode marker
    }

    /// A run another process trains (on another host, say a Slurm node): focused, the status
    /// line names the holder of its lock; on other rows the status line is as before.
    @Test func theHostOfARunTrainedElsewhereIsShown() {
        var far = fakeRun("far", live: false)
        far.snapshot.message = "training in another process (pid 4242 on node07 since 2026-11-29T20:00:00Z)"
        var st = state([far, fakeRun("here")])
        let opts = "smoothing 0.60 · linear · x: step · 0 compared"
        #expect(DashboardView.render(st, width: 160, height: 50).row(49)
                == " training in another process (pid 4242 on node07 since 2026-11-29T20:00:00Z)  ·  \(opts)".padding(toLength: 160, withPad: " ", startingAt: 0))
        #expect(DashboardView.render(st, width: 160, height: 50).row(3)
                == "│▶  far          running*  [████░░░░]   87.30   87.30 fp/ht      adder   1.2/2 lenet5      3000    0:02                                                        │")
        st.focus = 1
        #expect(DashboardView.render(st, width: 160, height: 50).row(49) == " \(opts)".padding(toLength: 160, withPad: " ", startingAt: 0))
    }

    @Test func pausedRunsAreNotCountedAsTraining() {
        let grid = DashboardView.render(state([fakeRun("fp"), fakeRun("held", state: .paused)]), width: 160, height: 50)
        #expect(grid.row(0) == (" AdderLab  2 runs, 1 training, 1 paused  ·  n new run  ? help  q quit ").padding(toLength: 160, withPad: " ", startingAt: 0))
        let held = (0..<50).map { grid.row($0) }.first { $0.contains("held") }!
        #expect(held == "│   held         paused    [████░░░░]   87.30   87.30 fp/ht      adder   1.2/2 lenet5         -  paused                                                        │")
    }

    /// One run is "1 run"; α is shown only for the adder layers it acts on.
    @Test func oneRunAndAlphaWhereItActs() {
        let grid = DashboardView.render(state([fakeRun("fp")]), width: 160, height: 50)
        #expect(grid.row(0).hasPrefix(" AdderLab  1 run, 1 training  ·"))
        let rows = (0..<50).map { grid.row($0) }
        let conv1 = rows.first { $0.hasPrefix("│conv1 ") }!, conv2 = rows.first { $0.hasPrefix("│conv2 ") }!
        #expect(conv1 == "│conv1            conv               8.33e-04 █▆▄▃▃▂▂▁▁▁     10.0         –                40.0            ▓▒▒▒▒▒░░░░░░"
                + String(repeating: " ", count: 40) + "│")
        #expect(conv2.contains("adder") && !conv2.contains(" – "), "\(conv2)")
    }

    @Test func tooSmallTerminalShowsAMessage() {
        let grid = DashboardView.render(state([fakeRun("fp")]), width: 40, height: 10)
        #expect(grid.text.contains("Terminal too small for AdderLab"))
        #expect(grid.text.contains("40×10, needs at least 60×18"))
    }

    /// Under LANG=C the keys are spelled in ASCII before the key column is padded: the
    /// descriptions stay in one column ("Enter <- ->" was two wider).
    @Test func asciiHelpStaysAligned() {
        var st = state([fakeRun("fp")], unicode: false)
        st.overlay = .help
        let rows = (0..<24).map { DashboardView.render(st, width: 80, height: 24).row($0) }
        #expect(rows.filter { $0.contains("Enter <- ->") || $0.contains("Up Down / Tab") || $0.contains("e / E") } == ["| | Up Down / Tab  move the focus between runs and groups                    | |",
                "+-| e / E          raise / lower eta of the adaptive learning rate (x1.25)   |-+",
                "| | Enter <- ->    show / hide a group's runs; the charts' value cursor      | |"])
    }

    @Test func helpOverlayListsEveryKey() {
        var st = state([fakeRun("fp")])
        st.overlay = .help
        #expect(DashboardView.helpLines.count + 2 <= 22, "the help fits an 80×24 terminal")
        let grid = DashboardView.render(st, width: 100, height: 30)
        // Every key's whole line, in order, inside the dialog's frame (centred, 4 wider than its longest line).
        let expected = DashboardView.helpLines.map { k, v in Grid.fit(k, 14, unicode: true) + " " + v }
        let lines = expected
        let w = lines.map { $0.unicodeScalars.count }.max()! + 4, x = (100 - w) / 2, top = (30 - (lines.count + 2)) / 2
        func segment(_ y: Int) -> String { String(String.UnicodeScalarView(Array(grid.row(y).unicodeScalars)[x..<(x + w)])) }
        for (i, line) in lines.enumerated() {
            #expect(segment(top + 1 + i) == "│ " + line + String(repeating: " ", count: w - 3 - line.unicodeScalars.count) + "│")
        }
    }

    @Test func asciiRenderingHasNoUnicode() {
        var st = state([fakeRun("fp")], unicode: false)
        st.overlay = .help
        let text = DashboardView.render(st, width: 100, height: 30).text
        let nonASCII = String(String.UnicodeScalarView(text.unicodeScalars.filter { !$0.isASCII }))
        #expect(nonASCII.isEmpty, "non-ASCII: \(nonASCII)")
    }

    @Test func launcherFormValidationErrors() throws {
        let dir = temporaryDirectory("tui")
        try "name: quickstart\ndescription: demo\ndataset: synthetic\nepochs: 2".write(toFile: dir + "/quickstart.yaml", atomically: true, encoding: .utf8)
        try "name: broken\nepochs: -3".write(toFile: dir + "/zz.yaml", atomically: true, encoding: .utf8)
        var form = LauncherForm(directory: dir)
        #expect(form.experiments.map(\.name) == ["quickstart", "zz.yaml"])
        #expect(form.fields.first { $0.label == "epochs" }?.value == "2")
        // Epochs: clear the field, type 0 → the launch fails with the key path and the rule.
        form.row = 1 + form.fields.firstIndex { $0.label == "epochs" }!
        _ = form.handle(.backspace)
        _ = form.handle(.char("0"))
        #expect(form.overrides == ["epochs=0"])
        if case .failure(let e) = form.resolve() { form.error = e.description } else { Issue.record("epochs 0 accepted") }
        #expect(form.error?.contains("epochs: 0 is too small; it must be at least 1") == true)
        var st = state([])
        st.overlay = .launcher(form)
        let text = DashboardView.render(st, width: 100, height: 34).text
        #expect(text.contains("Launch a run") && text.contains("0 is too small; it must be at least 1"))
        // A choice field cycles with the arrows; the gradient field sets both rules.
        form.row = 1
        _ = form.handle(.right)
        #expect(form.fields[0].value == "sign/sign")
        #expect(form.overrides.contains("gradient.filter=sign") && form.overrides.contains("gradient.input=sign"))
        // The broken experiment shows its error.
        form.row = 0
        _ = form.handle(.right)
        #expect(form.error?.contains("epochs: -3 is too small") == true)
        #expect(form.handle(.escape) == .cancel)
    }

    /// Every wrong field is named at once, under itself, in field order; at 60×18 the
    /// errors and the keys still show (spacing and the preview give way).
    @Test func launcherNamesEveryWrongFieldAtOnce() throws {
        let dir = temporaryDirectory("tui")
        try "name: quickstart\ndescription: LeNet-5-BN AdderNet on a synthetic set, the paper's full-precision filter gradient with HardTanh input gradient and the adaptive learning rate\ndataset: synthetic\nepochs: 2".write(toFile: dir + "/quickstart.yaml", atomically: true, encoding: .utf8)
        var form = LauncherForm(directory: dir)
        for label in ["epochs", "batch"] {
            form.row = 1 + form.fields.firstIndex { $0.label == label }!
            _ = form.handle(.backspace); _ = form.handle(.backspace); _ = form.handle(.backspace)
            _ = form.handle(.char("0"))
        }
        #expect(form.fieldErrors == [4: "0 is too small; it must be at least 1", 5: "0 is too small; it must be at least 2 (batch norm needs at least 2 images)"])
        var st = state([])
        st.overlay = .launcher(form)
        let big = DashboardView.render(st, width: 100, height: 34)
        #expect((6...21).map { big.row($0) } == ["│loss         ┌─ Launch a run ───────────────────────────────────────────────────────┐             │",
                "│       │     │   experiment  ◀ quickstart  (1/1) ▶                                  │             │",
                "│       │     │    LeNet-5-BN AdderNet on a synthetic set, the paper's               │             │",
                "│       │     │    full-precision filter gradient with HardTanh input gradient and   │             │",
                "│       │     │    the adaptive learning rate                                        │             │",
                "│       │     │                                                                      │             │",
                "│       │     │   gradient rule ◀ fullPrecision/hardTanh ▶                           │             │",
                "│       │     │   lr strategy   ◀ adaptive ▶                                         │             │",
                "│       │     │   η             0.2                                                  │             │",
                "│       │     │   lr            0.1                                                  │             │",
                "│       │ no d│   epochs        0  (changed)                                         │             │",
                "│       │     │                  0 is too small; it must be at least 1               │             │",
                "│       │     │ ▶ batch         0_  (changed)                                        │             │",
                "│       │     │                  0 is too small; it must be at least 2 (batch norm   │             │",
                "│       │     │                  needs at least 2 images)                            │             │",
                "│       │     │   seed          0                                                    │             │"])
        let small = DashboardView.render(st, width: 60, height: 18)
        #expect((0..<18).map { small.row($0) } == [" AdderLab  0 runs, 0 training  ·  n new run  ? help  q quit ",
                "┌─┌─ Launch a run ───────────────────────────────────────┐─┐",
                "│ │   experiment  ◀ quickstart  (1/1) ▶                  │ │",
                "│ │    LeNet-5-BN AdderNet on a synthetic set, the pape… │m│",
                "└─│   gradient rule ◀ fullPrecision/hardTanh ▶           │─┘",
                "┌─│   lr strategy   ◀ adaptive ▶                         │─┐",
                "│l│   η             0.2                                  │ │",
                "│ │   lr            0.1                                  │ │",
                "│ │   epochs        0  (changed)                         │ │",
                "│ │      0 is too small; it must be at least 1           │ │",
                "│ │ ▶ batch         0_  (changed)                        │─│",
                "└─│      0 is too small; it must be at least 2 (batch n… │─┘",
                "┌─│   seed          0                                    │─┐",
                "│ │   dataset       ◀ synthetic ▶                        │ │",
                "│ │   [ Launch ]                                         │ │",
                "│ │ ↑↓ move ←→ choose Enter next/launch Esc cancel       │ │",
                "└─└──────────────────────────────────────────────────────┘─┘",
                " smoothing 0.60 · linear · x: step · 0 compared             "])
    }

    /// Under LANG=C the launcher's key line is spelled out and still ends with Esc cancel at 80×24.
    @Test func launcherKeysFitInASCII() throws {
        let dir = temporaryDirectory("tui")
        try "name: quickstart\ndescription: demo\ndataset: synthetic".write(toFile: dir + "/quickstart.yaml", atomically: true, encoding: .utf8)
        var st = state([], unicode: false)
        st.overlay = .launcher(LauncherForm(directory: dir))
        let rows = (0..<24).map { DashboardView.render(st, width: 80, height: 24).row($0) }
        #expect(rows.filter { $0.contains("Esc cancel") } == ["|   | Up/Down Left/Right Enter next/launch Esc cancel                      |   |"])
    }

    @Test func quitAsksWhenRunsAreLive() {
        var st = state([fakeRun("fp")])
        st.overlay = .confirmQuit(live: 1)
        let text = DashboardView.render(st, width: 80, height: 24).text
        #expect(text.contains("1 run is still training.") && text.contains("y: stop and quit"))
    }
}

@Suite("Layer panel fits beside the heat strip")
struct LayerPanelWidthTests {
    /// At 160 columns the heat strip takes the right third; every table column, the last
    /// ("out std") included, must still fit to its left.
    @Test func outStdColumnIsNotClipped() {
        let grid = DashboardView.render(state([fakeRun("fp")]), width: 160, height: 50)
        let header = (0..<50).map { grid.row($0) }.first { $0.contains("grad-norm heat") } ?? ""
        #expect(header.contains("out std"), "\(header)")
    }
}
