import Foundation
import Testing
import AdderTestSupport
@testable import AdderTUI

/// The dashboard driven as a person would, in a real terminal: tmux runs `adderlab`,
/// keys go in with send-keys, and the screen comes back with capture-pane.
@Suite("Dashboard end to end in tmux", .serialized, .timeLimit(.minutes(3)))
struct EndToEndTests {
    let session = "adderlab-e2e-\(getpid())"
    /// Each test has a tmux server of its own: on a shared default server, one test's
    /// last session closing could take the server down as the next test's session started.
    let server = "adderlab-e2e-\(getpid())-\(UUID().uuidString.prefix(8))"

    /// The adderlab binary built next to this test bundle.
    var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("adderlab").path
    }

    /// Runs tmux and returns what it printed (standard output and error together).
    @discardableResult
    func tmux(_ args: [String]) throws -> String {
        try Subprocess.run(["tmux", "-u", "-L", server] + args, mergeErrors: true).out
    }

    /// Starts a `width`×`height` session in `dir` running a bare shell, and waits for its prompt.
    func open(_ name: String, _ width: Int, _ height: Int, in dir: String) throws {
        let r = try Subprocess.run(["tmux", "-u", "-L", server, "new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", "-c", dir,
                                    "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color PS1='E2E$ ' bash --norc --noprofile"], mergeErrors: true)
        guard r.status == 0 else { throw E2EError(message: "tmux new-session exited with \(r.status): \(r.out)") }
        let end = Date().addingTimeInterval(10)
        while Date() < end, !(try tmux(["capture-pane", "-p", "-t", name]).contains("E2E$")) { usleep(100_000) }
    }

    /// Ends this test's tmux server and everything in it.
    func close() { _ = try? tmux(["kill-server"]) }

    func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", session]) }

    func keys(_ k: String...) throws { try tmux(["send-keys", "-t", session] + k) }

    /// Polls the screen until `condition` holds; the last screen is returned either way.
    func waitFor(_ seconds: Double, _ what: String, _ condition: (String) -> Bool) throws -> String {
        let end = Date().addingTimeInterval(seconds)
        var s = ""
        while Date() < end {
            s = try screen()
            if condition(s) { return s }
            usleep(100_000)
        }
        Issue.record("timed out waiting for \(what); the screen was:\n\(s)")
        return s
    }

    @Test func launchFlipGradientModeAndQuit() throws {
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build adderlab first: \(binary)")
        let dir = temporaryDirectory("e2e")
        try FileManager.default.createDirectory(atPath: dir + "/experiments", withIntermediateDirectories: true)
        try """
        name: e2e
        description: synthetic AdderNet for the end-to-end test
        model: lenet5
        dataset: synthetic
        trainSamples: 12800
        testSamples: 500
        epochs: 4
        batchSize: 64
        evalEvery: 25
        layerStatsEvery: 5
        """.write(toFile: dir + "/experiments/e2e.yaml", atomically: true, encoding: .utf8)
        try open(session, 120, 40, in: dir)
        defer { close() }
        try keys("\(binary) --no-quickstart", "Enter")
        _ = try waitFor(20, "the empty dashboard") { $0.contains("No runs yet") }

        // Launch from the launcher: n, down to [ Launch ], Enter.
        try keys("n")
        _ = try waitFor(10, "the launcher") { $0.contains("Launch a run") && $0.contains("e2e") }
        // Down to [ Launch ], however many fields the launcher has.
        for _ in 0..<LauncherForm(directory: dir + "/experiments").launchRow { try keys("Down") }
        try keys("Enter")
        let running = try waitFor(30, "the run and its loss chart") { s in
            s.contains("running") && s.unicodeScalars.contains { $0.value > 0x2800 && $0.value <= 0x28FF }
        }
        #expect(running.contains("fp/ht"))

        // Flip the gradient mode: the runs panel shows sign/sign and the chart a marker.
        try keys("g")
        let flipped = try waitFor(20, "the new gradient mode and its marker") { s in
            s.contains("sign/sign") && s.contains("┊")
        }
        #expect(flipped.contains("sign/sign"))

        // Quit: it asks, because the run is training; y stops it and exits.
        try keys("q")
        _ = try waitFor(10, "the quit question") { $0.contains("still training") }
        try keys("y")
        let after = try waitFor(30, "the shell prompt after quitting") { s in
            s.components(separatedBy: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?.hasPrefix("E2E$") == true
                && !s.contains("AdderLab  1 run,")
        }
        #expect(!after.contains("Runs (runs)"))

        // The terminal is sane: echo and canonical mode are back on.
        try keys("stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e icanon | wc -l | sed 's/^/SANE=/'", "Enter")
        let sane = try waitFor(10, "stty's answer") { $0.contains("SANE=2") }
        #expect(sane.contains("SANE=2"))

        // The run stopped cleanly and left a checkpoint behind.
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs")
        #expect(runs.count == 1)
        #expect(FileManager.default.fileExists(atPath: dir + "/runs/\(runs[0])/checkpoints/latest.safetensors"))
        let log = try String(contentsOfFile: dir + "/runs/\(runs[0])/run.log", encoding: .utf8)
        #expect(log.contains("gradientMode sign/sign") && log.contains("state stopped"))
    }

    /// The lifecycle as a user meets it: the gradient ablation launched from the launcher
    /// (synthetic set, 1 epoch) with a limit of 1 shows 1 run training and 20 queued; a
    /// headless run started by another process shows as running and is paused and resumed
    /// from here (Space, through its controls file); stopped there, it is resumed here with R
    /// (and started at once with Space).
    @Test func queueOtherProcessesAndResume() throws {
        let dir = temporaryDirectory("e2e-queue")
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/experiments", withIntermediateDirectories: true)
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try fm.copyItem(atPath: repo + "/experiments/gradient-ablation.yaml", toPath: dir + "/experiments/gradient-ablation.yaml")
        try """
        name: headless
        dataset: synthetic
        trainSamples: 12800
        testSamples: 500
        epochs: 30
        batchSize: 64
        """.write(toFile: dir + "/headless.yaml", atomically: true, encoding: .utf8)
        try open(session, 160, 50, in: dir)
        defer { close() }
        try keys("\(binary) --no-quickstart --parallel 1", "Enter")
        _ = try waitFor(20, "the empty dashboard") { $0.contains("No runs yet") }

        // The launcher: epochs 1 (row 5), dataset synthetic (row 8, one to the left of
        // fashion-mnist), then Launch.
        try keys("n")
        _ = try waitFor(10, "the launcher") { $0.contains("Launch a run") && $0.contains("gradient-ablation") && $0.contains("will start 21 runs") }
        for _ in 0..<5 { try keys("Down") }
        try keys("BSpace", "1")
        for _ in 0..<3 { try keys("Down") }
        try keys("Left")
        let form = try waitFor(10, "the fields set") { $0.contains("◀ synthetic ▶") && $0.contains("epochs        1") }
        #expect(form.contains("gradient rule ◀ varies (2 values) ▶"))
        try keys("Down", "Enter")
        let queued = try waitFor(20, "1 training and 20 queued") { $0.contains("AdderLab  21 runs in 7 groups, 1 training, 20 queued") }
        // Grouped: seven rows of three seeds, the first group starting, the rest queued.
        #expect(queued.contains("▸ cnn (3)") && queued.contains("2 queu 1 strt") && queued.contains("▸ sign·scaled (3)")
                && queued.contains("launched gradient-ablation: 21 runs, 1 at a time (20 queued"))

        // A run trained by another process is shown as running (r re-reads the directory at once).
        let headless = try Subprocess([binary, "run", dir + "/headless.yaml", "--runs-dir", dir + "/runs", "--threads-per-run", "1"])
        func headlessRow(_ s: String) -> String? { s.split(separator: "\n").map(String.init).first { $0.contains(" headless ") } }
        _ = try waitFor(30, "the headless run training") { s in
            if headlessRow(s) == nil { try? keys("r") }
            return headlessRow(s)?.contains("running*") == true && s.contains("2 training")
        }
        // Space pauses it through its directory's controls file, and again resumes it.
        for _ in 0..<25 { try keys("Up") }
        try keys("Space")
        _ = try waitFor(10, "the pause sent") { $0.contains("pausing headless after this step (sent to the process training it)") }
        _ = try waitFor(30, "the headless run paused") { s in
            if headlessRow(s)?.contains("paused*") != true { try? keys("r") }
            return headlessRow(s)?.contains("paused*") == true
        }
        try keys("Space")
        _ = try waitFor(10, "the resume sent") { $0.contains("resuming headless (sent to the process training it)") }
        _ = try waitFor(30, "the headless run running again") { s in
            if headlessRow(s)?.contains("running*") != true { try? keys("r") }
            return headlessRow(s)?.contains("running*") == true
        }
        // Stopped there (Ctrl-C: a checkpoint), it reads as stopped here.
        _ = try waitFor(30, "the headless run's first step") { _ in
            ((try? String(contentsOfFile: RunReaderPath.metrics(dir + "/runs", "headless"), encoding: .utf8)) ?? "").contains("\"kind\":\"step\"")
        }
        kill(headless.pid, SIGINT)
        #expect(headless.wait().status == 1)
        try keys("r")
        _ = try waitFor(20, "the headless run stopped") { headlessRow($0)?.contains("stopped*") == true }

        // R on it queues the resume first (the limit is taken); Space starts it now.
        for _ in 0..<25 { try keys("Up") }
        try keys("R")
        _ = try waitFor(10, "the resume queued") { $0.contains("headless will resume from its last checkpoint when a slot is free (queued first)") }
        try keys("Space")
        let resumed = try waitFor(30, "the resumed run training here") { s in headlessRow(s)?.contains("running ") == true && s.contains("starting headless now") }
        #expect(headlessRow(resumed)?.contains("running*") == false)

        // Quit: the queue is emptied, the training runs stop with checkpoints.
        try keys("q")
        // The headless run, and the ablation's current run unless it has just finished
        // (how far it got depends on the machine's load).
        _ = try waitFor(10, "the quit question") { $0.contains("2 runs are still training") || $0.contains("1 run is still training") }
        try keys("y")
        _ = try waitFor(60, "the shell prompt after quitting") { s in
            s.components(separatedBy: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?.hasPrefix("E2E$") == true
        }
        let log = try String(contentsOfFile: RunReaderPath.log(dir + "/runs", "headless"), encoding: .utf8)
        #expect(log.contains("resumedFromCheckpoint step ") && log.hasSuffix("state stopped\n"), "\(log)")
        // Of the 21 queued runs only those started have a directory.
        let made = try fm.contentsOfDirectory(atPath: dir + "/runs").filter { $0.hasPrefix("gradient-ablation") }
        #expect(made.count >= 1 && made.count < 21)
    }

    /// experiments/results as a user compares it: 7 groups with ± figures, all compared
    /// with C, the layer view with one series per layer, and p's SVG (7 series, valid XML).
    @Test func compareTheAblationAndExport() throws {
        let dir = temporaryDirectory("e2e-compare")
        let fm = FileManager.default
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try fm.copyItem(atPath: repo + "/experiments/results", toPath: dir + "/results")
        try open(session, 160, 50, in: dir)
        defer { close() }
        try keys("\(binary) --runs-dir results --no-quickstart", "Enter")
        let groups = try waitFor(20, "seven groups") { $0.contains("AdderLab  21 runs in 7 groups") }
        for label in ["cnn", "fp·adaptive", "fp·fixed", "fp·scaled", "sign·adaptive", "sign·fixed", "sign·scaled"] {
            #expect(groups.split(separator: "\n").contains { $0.contains("▸ \(label) (3)") && $0.contains("±") }, "\(label)")
        }
        try keys("C")
        _ = try waitFor(10, "every group compared") { $0.contains("comparing 7 groups") }
        try keys("p")
        let exported = try waitFor(10, "the export") { $0.contains("wrote results/figures/charts-") }
        #expect(exported.contains("-accuracy.svg (7 series)"))
        let figures = try fm.contentsOfDirectory(atPath: dir + "/results/figures").filter { $0.hasSuffix("-accuracy.svg") }
        #expect(figures.count == 1)
        let svg = try String(contentsOfFile: dir + "/results/figures/" + figures[0], encoding: .utf8)
        #expect(SVGContents.parse(svg)?.series == ["cnn", "fp·adaptive", "fp·fixed", "fp·scaled", "sign·adaptive", "sign·fixed", "sign·scaled"])
        // The layer view of the focused group's first run: one series per layer.
        try keys("L")
        let layers = try waitFor(10, "the layer view") { $0.contains("‖∂L/∂F‖ per layer of gradient-ablation-cnn-s1") }
        // The legend: the five layers in order, each after its bullet or glyph (the glyph when
        // the terminal has no colour for it).
        let legend = layers.split(separator: "\n").first { $0.contains("per layer of") }.map(String.init) ?? ""
        let names = legend.split(separator: " ").filter { $0 != "│" }.suffix(5).map { String($0.unicodeScalars.dropFirst()) }
        #expect(names == ["conv1", "conv2", "conv3", "fc1", "fc2"], "\(legend)")
        try keys("q")
        _ = try waitFor(10, "the shell prompt after quitting") { s in
            s.components(separatedBy: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?.hasPrefix("E2E$") == true
        }
    }

    /// Resized 160×50 → 80×24 → 60×18 → 200×60, each screen is what a dashboard started at
    /// that size draws: no cell is left from the size before (the bottom-right one was).
    @Test func resizingLeavesNoStaleCell() throws {
        let dir = temporaryDirectory("e2e-resize")
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try FileManager.default.copyItem(atPath: repo + "/experiments/results", toPath: dir + "/results")
        try open(session, 160, 50, in: dir)
        defer { close() }
        let command = "\(binary) --runs-dir results --no-quickstart"
        try keys(command, "Enter")
        _ = try waitFor(20, "seven groups") { $0.contains("AdderLab  21 runs in 7 groups") && $0.contains("read 21 run directories") }
        for (width, height) in [(80, 24), (60, 18), (200, 60)] {
            try tmux(["resize-window", "-t", session, "-x", "\(width)", "-y", "\(height)"])
            let fresh = "\(session)-\(width)x\(height)"
            try open(fresh, width, height, in: dir)
            try tmux(["send-keys", "-t", fresh, command, "Enter"])
            // Both settle (the fresh one reads the runs); then they must be the same, cell for cell.
            let end = Date().addingTimeInterval(20)
            var resized = "", drawn = ""
            repeat {
                usleep(200_000)
                resized = try screen()
                drawn = try tmux(["capture-pane", "-p", "-t", fresh])
            } while resized != drawn && Date() < end
            #expect(resized == drawn, "at \(width)×\(height), resized:\n\(resized)\nstarted at that size:\n\(drawn)")
            try tmux(["send-keys", "-t", fresh, "q"])
            try tmux(["kill-session", "-t", fresh])
        }
        try keys("q")
    }

    /// With LANG=C every byte on screen is ASCII: the runs, the charts, the layers, a group
    /// compared, the help and the launcher with its descriptions read from YAML.
    @Test func asciiOnlyUnderLANGC() throws {
        let dir = temporaryDirectory("e2e-ascii")
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try FileManager.default.copyItem(atPath: repo + "/experiments/results", toPath: dir + "/results")
        try FileManager.default.createDirectory(atPath: dir + "/experiments", withIntermediateDirectories: true)
        for name in ["quickstart.yaml", "gradient-ablation.yaml", "fashion-lenet5-adder.yaml"] {
            try FileManager.default.copyItem(atPath: repo + "/experiments/" + name, toPath: dir + "/experiments/" + name)
        }
        try open(session, 120, 40, in: dir)
        defer { close() }
        try keys("env LANG=C LC_ALL=C \(binary) --runs-dir results --no-quickstart", "Enter")
        var screens: [(String, String)] = []
        screens.append(("grouped", try waitFor(20, "seven groups") { $0.contains("AdderLab  21 runs in 7 groups") }))
        try keys("C")
        screens.append(("compared", try waitFor(10, "every group compared") { $0.contains("comparing 7 groups") }))
        try keys("t")
        screens.append(("flat", try waitFor(10, "the flat list") { $0.contains("flat list") }))
        try keys("L")
        screens.append(("layer view", try waitFor(10, "the layer view") { $0.contains("per layer of") }))
        try keys("Escape")
        try keys("?")
        screens.append(("help", try waitFor(10, "the help") { $0.contains("fp = full-precision") }))
        try keys("Escape")
        try keys("n")
        screens.append(("launcher", try waitFor(10, "the launcher") { $0.contains("Launch") }))
        for (name, s) in screens {
            let wide = s.unicodeScalars.filter { !$0.isASCII }
            #expect(wide.isEmpty, "\(name): \(String(String.UnicodeScalarView(wide)))\n\(s)")
        }
        try keys("Escape")
        try keys("q")
    }

    /// After `kill -9` the terminal is left in the alternate screen with the cursor hidden
    /// (nothing runs after SIGKILL); starting adderlab there and quitting puts it back.
    @Test func aTerminalLeftByKillNineIsRecovered() throws {
        let dir = temporaryDirectory("e2e-kill")
        try open(session, 100, 30, in: dir)
        defer { close() }
        func modes() throws -> String { try tmux(["display-message", "-p", "-t", session, "#{alternate_on} #{cursor_flag}"]) }
        try keys("\(binary) --runs-dir runs --no-quickstart", "Enter")
        _ = try waitFor(20, "the empty dashboard") { $0.contains("No runs yet") }
        #expect(try modes() == "1 0\n")
        let pid = try #require(Int32(try tmux(["display-message", "-p", "-t", session, "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)))
        // The shell's child is the dashboard.
        let children = try String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8).split(separator: " ").compactMap { Int32($0) }
        #expect(children.count == 1)
        for child in children { kill(child, SIGKILL) }
        _ = try waitFor(10, "the shell back") { _ in ((try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? "x").isEmpty }
        #expect(try modes() == "1 0\n", "killed: still the alternate screen, cursor hidden")
        try keys("\(binary) --runs-dir runs --no-quickstart", "Enter")
        _ = try waitFor(20, "the dashboard again") { $0.contains("No runs yet") }
        try keys("q")
        _ = try waitFor(10, "the shell prompt after quitting") { s in
            s.components(separatedBy: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?.hasPrefix("E2E$") == true
        }
        #expect(try modes() == "0 1\n", "recovered: the normal screen, the cursor shown")
    }

    /// TERM=dumb cannot show the dashboard: a clear message, exit 1, and a clean shell line.
    @Test func dumbTerminalIsRefusedCleanly() throws {
        let dir = temporaryDirectory("dumb")
        try open(session + "-dumb", 220, 20, in: dir)
        defer { close() }
        func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", session + "-dumb"]) }
        var s = ""
        try tmux(["send-keys", "-t", session + "-dumb", "env TERM=dumb \(binary) --no-quickstart; echo EXIT=$?", "Enter"])
        func exited(_ s: String) -> Bool { s.split(separator: "\n").contains { $0.hasPrefix("EXIT=") } }
        for _ in 0..<100 where !exited(s) { s = try screen(); usleep(100_000) }
        let lines = s.split(separator: "\n").map(String.init)
        guard let exit = lines.firstIndex(where: { $0.hasPrefix("EXIT=") }) else { Issue.record("no exit status:\n\(s)"); return }
        #expect(lines[exit] == "EXIT=1")
        #expect(lines[exit - 1] == "error: the dashboard needs a terminal with cursor addressing (TERM is 'dumb'); set TERM (e.g. xterm-256color) or use `adderlab run` for headless training", "\(s)")
        #expect(lines.dropFirst(exit + 1).first { !$0.isEmpty }?.trimmingCharacters(in: .whitespaces) == "E2E$", "\(s)")
    }
}

/// Paths of a run directory found by the start of its name.
enum RunReaderPath {
    static func directory(_ runs: String, _ prefix: String) -> String? {
        ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).sorted().first { $0.hasPrefix(prefix + "-") }.map { runs + "/" + $0 }
    }
    static func metrics(_ runs: String, _ prefix: String) -> String { (directory(runs, prefix) ?? runs + "/none") + "/metrics.jsonl" }
    static func log(_ runs: String, _ prefix: String) -> String { (directory(runs, prefix) ?? runs + "/none") + "/run.log" }
}

struct E2EError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
