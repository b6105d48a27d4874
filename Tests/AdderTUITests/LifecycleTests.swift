import AdderTestSupport
import AdderTrain
import AdderTUI
import Foundation
import Testing

/// The dashboard's side of a run's lifecycle: the queue, resume, failures with reasons,
/// and the launcher on groups.
@Suite("Run lifecycle in the dashboard")
struct LifecycleTests {
    func write(_ yaml: String, _ dir: String, _ name: String) throws {
        try yaml.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }

    func settle(_ d: Dashboard, _ seconds: Double = 120, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            d.refresh()
            // The screen's snapshots are taken by refresh: take them again once the condition
            // holds, or a run that ended between the two reads shows as it was.
            if condition() { d.refresh(); return true }
            usleep(10_000)
        }
        return false
    }

    func rows(_ d: Dashboard, width: Int = 100, height: Int = 30) -> [String] {
        let grid = DashboardView.render(d.state, width: width, height: height)
        return (0..<height).map { grid.row($0) }
    }

    func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }

    static let group = """
        name: g
        dataset: synthetic
        trainSamples: 640
        testSamples: 200
        epochs: 1
        batchSize: 64
        group:
          seeds: [1, 2, 3]
        """

    /// With a limit of 1, a three-run group shows one run training and two queued, in order;
    /// the queue's keys move, cancel and start queued runs.
    @Test func queuedRunsShowTheirPlaceAndObeyTheKeys() throws {
        let runs = temporaryDirectory("runs"), exps = temporaryDirectory("exps")
        try write(LifecycleTests.group, exps, "g.yaml")
        let d = Dashboard(runsDirectory: runs, experimentsDirectory: exps, unicode: true, color: false, parallel: 1, threadsPerRun: 1)
        d.launch(try Experiment.load(path: exps + "/g.yaml"))
        #expect(d.state.message == "launched g: 3 runs, 1 at a time (2 queued; + / - change how many)")
        #expect(d.state.runs.map(\.snapshot.config.name) == ["g-s1", "g-s2", "g-s3"])
        #expect(d.state.runs.map(\.queuePosition) == [nil, 1, 2])
        // Grouped (the default), the three seeds are one row; t shows them one by one.
        var screen = rows(d)
        #expect(screen[0].hasPrefix(" AdderLab  3 runs in 1 group, 1 training, 2 queued  ·  n new run"))
        // The first run is starting or already running (its data may be cached): only the
        // queued part of the group's state is fixed.
        #expect(screen[3].hasPrefix("│▶  ▸ g (3)      2 queu 1 "))
        d.handle(.char("t"))
        #expect(d.state.message == "flat list: every run on its own row")
        screen = rows(d)
        #expect(screen[3].hasPrefix("│▶● g-s1 "))
        #expect(Array(screen[4...5]) == ["│ ● g-s2         queued 1  [░░░░░░░░]       -       - fp/ht      adder   0.0/1 lenet5    2         │",
                                         "│ ● g-s3         queued 2  [░░░░░░░░]       -       - fp/ht      adder   0.0/1 lenet5    3         │"])
        d.handle(.up); d.handle(.up)
        // Focus the last queued run and move it up: it is next.
        d.handle(.down); d.handle(.down)
        #expect(d.state.focused?.snapshot.config.name == "g-s3")
        d.handle(.char("["))
        #expect(d.state.runs.map(\.snapshot.config.name) == ["g-s1", "g-s3", "g-s2"])
        #expect(d.state.focused?.snapshot.config.name == "g-s3" && d.state.focused?.queuePosition == 1)
        // x on a queued run removes it from the queue; Space on the other starts it now.
        d.handle(.down)
        d.handle(.char("x"))
        #expect(d.state.message == "removed g-s2 from the queue")
        #expect(d.state.runs.map(\.snapshot.config.name) == ["g-s1", "g-s3"])
        d.handle(.char(" "))
        #expect(d.state.message == "starting g-s3 now, beyond the limit of 1")
        #expect(d.queue.trainingCount == 2 || d.queue.contents().started.count == 2)
        #expect(settle(d) { d.activeRuns.isEmpty })
        #expect(d.state.runs.map(\.snapshot.state) == [.finished, .finished])
        #expect(d.live.map(\.threads) == [1, 1])
        // + and − change the limit for what starts next (threads follow unless fixed).
        d.handle(.char("+"))
        #expect(d.state.message == "at most 2 runs at once, 1 thread each (for runs that start from now)")
    }

    /// R resumes a run read from disk — stopped by another process — from its checkpoint,
    /// continuing the same metrics file, as `adderlab run --resume` does.
    @Test func resumeAStoppedRunFromDisk() throws {
        let runs = temporaryDirectory("runs")
        let config = try Experiment.parse(yaml: "name: r\ndataset: synthetic\ntrainSamples: 3200\ntestSamples: 200\nepochs: 2\nbatchSize: 64\n").runs[0]
        let first = try TrainingRun(config: config, runsDirectory: runs, threads: 1)
        first.start()
        let end = Date().addingTimeInterval(60)
        while first.snapshot().step < 10 && Date() < end { usleep(5_000) }
        first.stop()
        let stopped = first.wait()
        #expect(stopped.state == .stopped)
        let d = Dashboard(runsDirectory: runs, experimentsDirectory: runs, unicode: true, color: false, parallel: 1, threadsPerRun: 1)
        #expect(d.state.runs.map(\.snapshot.state) == [.stopped] && !d.state.runs[0].live)
        d.handle(.char("R"))
        #expect(d.state.message == "resuming r from its last checkpoint")
        #expect(d.state.runs.count == 1 && d.state.runs[0].live)
        #expect(settle(d) { d.state.runs.first?.snapshot.state == .finished })
        let read = try RunReader.read(directory: first.directory!)
        #expect(read.state == .finished)
        #expect(read.steps.map(\.step) == Array(1...100))
        #expect(read.events.filter { $0.kind == .resumedFromCheckpoint }.map(\.detail) == ["step \(stopped.step) of 100 from latest.safetensors"])
        // A finished run is not resumed again; it says why.
        d.handle(.char("R"))
        #expect(d.state.message == "r finished all its steps; there is nothing to resume")
    }

    /// A run that fails shows its reason on its row and in the status line; a launch whose
    /// dataset is missing, or whose batch is larger than its training set, is refused.
    @Test func failuresSayWhy() throws {
        let runs = temporaryDirectory("runs"), exps = temporaryDirectory("exps")
        // Files that are there (the launcher's check passes) but empty: the run fails loading them.
        let empty = runs + "/empty-mnist"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for n in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            #expect(FileManager.default.createFile(atPath: empty + "/" + n, contents: Data()))
        }
        try write("name: tiny\ndataset: mnist\ndataDir: \(empty)\n", exps, "tiny.yaml")
        let d = Dashboard(runsDirectory: runs, experimentsDirectory: exps, unicode: true, color: false)
        d.launch(try Experiment.load(path: exps + "/tiny.yaml"))
        #expect(settle(d) { d.state.runs.first?.snapshot.state == .failed })
        let reason = d.state.runs[0].snapshot.message
        #expect(reason == "\(empty)/train-images-idx3-ubyte: file is empty")
        #expect(d.state.message == "tiny failed: " + reason)
        let screen = rows(d)
        // The row gives the reason the width that is left, cut with an ellipsis.
        let cell = "│▶  tiny         failed    " + reason
        #expect(screen[3] == String(cell.prefix(98)) + "…│")
        // A batch larger than the training set: refused before anything starts.
        try write("name: big\ndataset: synthetic\ntrainSamples: 10\nbatchSize: 64\n", exps, "big.yaml")
        d.launch(try Experiment.load(path: exps + "/big.yaml"))
        #expect(d.state.message == "cannot launch big: big: batch 64 is more than the 10 training images (trainSamples): no batch would be made (the last partial batch is dropped)")
        #expect(d.state.runs.count == 1)
        // Nothing is queued for a dataset that is not there.
        let missing = runs + "/no-mnist"
        try write("name: m\ndataset: mnist\ndataDir: \(missing)\n", exps, "m.yaml")
        d.launch(try Experiment.load(path: exps + "/m.yaml"))
        #expect(d.state.message == "cannot launch m: MNIST not found (looked in \(missing)/train-images-idx3-ubyte[.gz]). Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz) in \(missing).")
        #expect(d.queue.contents().waiting.isEmpty && d.state.runs.count == 1)
        // From the launcher, the form stays open with the reason.
        d.handle(.char("n"))
        guard case .launcher(let form) = d.state.overlay else { Issue.record("no launcher"); return }
        #expect(form.experiments.map(\.name) == ["big", "m", "tiny"] && form.selected == 0)
        d.handle(.right)   // m
        guard case .launcher(let onM) = d.state.overlay else { Issue.record("no launcher"); return }
        #expect(onM.experiments[onM.selected].name == "m")
        for _ in 0..<onM.launchRow { d.handle(.down) }
        d.handle(.enter)
        guard case .launcher(let after) = d.state.overlay else { Issue.record("the launcher closed"); return }
        #expect(after.error == "cannot launch: MNIST not found (looked in \(missing)/train-images-idx3-ubyte[.gz]). Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz) in \(missing).")
        #expect(d.queue.contents().waiting.isEmpty && d.state.runs.count == 1)
    }

    /// On a group, a field its runs vary says so and is left alone; set, it holds for
    /// every run (the group's variation over it is dropped), and the preview says what starts.
    @Test func launcherOnAGroup() throws {
        let exps = temporaryDirectory("exps")
        try write("""
            name: quickstart
            dataset: synthetic
            group:
              grid:
                gradient.filter: [fullPrecision, sign]
                learningRate.strategy: [adaptive, fixed]
              seeds: [1, 2]
            """, exps, "quickstart.yaml")
        var form = LauncherForm(directory: exps)
        #expect(form.fields.map(\.shown) == ["varies (2 values)", "varies (2 values)", "0.2", "0.1", "1", "64", "varies (2 values)", "synthetic"])
        #expect(form.preview == "will start 8 runs: quickstart-fullPrecision-adaptive-s1, quickstart-fullPrecision-adaptive-s2, quickstart-fullPrecision-fixed-s1, quickstart-fullPrecision-fixed-s2, quickstart-sign-adaptive-s1, quickstart-sign-adaptive-s2, quickstart-sign-fixed-s1, quickstart-sign-fixed-s2")
        var st = DashboardState()
        st.overlay = .launcher(form)
        let screen = (0..<40).map { DashboardView.render(st, width: 100, height: 40).row($0) }
        // Whole rows: the varied field, and the preview cut to three lines.
        #expect(screen[13] == "│       │     │   gradient rule ◀ varies (2 values) ▶                                │             │")
        #expect(screen[24] == "│       │     │ will start 8 runs: quickstart-fullPrecision-adaptive-s1,             │             │")
        #expect(screen[25] == "│       │     │ quickstart-fullPrecision-adaptive-s2,                                │             │")
        #expect(screen[26] == "│       │     │ quickstart-fullPrecision-fixed-s1, and 5 more                        │             │")
        // The first press shows a value, the next picks sign/sign: every run gets both rules.
        form.row = 1
        _ = form.handle(.right)
        #expect(form.fields[0].shown == "fullPrecision/hardTanh" && form.fields[0].changed)
        _ = form.handle(.right)
        #expect(form.fields[0].shown == "sign/sign")
        #expect(form.preview == "will start 4 runs: quickstart-adaptive-s1, quickstart-adaptive-s2, quickstart-fixed-s1, quickstart-fixed-s2")
        guard case .success(let exp) = form.resolve() else { Issue.record("did not resolve"); return }
        #expect(exp.runs.map(\.gradientRules.label) == Array(repeating: "sign/sign", count: 4))
        // Typing a seed replaces the varied seeds with that one.
        form.row = 1 + form.fields.firstIndex { $0.label == "seed" }!
        _ = form.handle(.char("7"))
        #expect(form.fields[6].shown == "7")
        #expect(form.preview == "will start 2 runs: quickstart-adaptive, quickstart-fixed")
        guard case .success(let seeded) = form.resolve() else { Issue.record("did not resolve"); return }
        #expect(seeded.runs.map(\.seed) == [7, 7])
    }
}
