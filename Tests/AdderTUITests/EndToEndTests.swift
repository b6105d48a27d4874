import Foundation
import Testing
import AdderTestSupport
@testable import AdderTUI

/// The dashboard driven as a person would, in a real terminal: tmux runs `adderlab`,
/// keys go in with send-keys, and the screen comes back with capture-pane.
@Suite("Dashboard end to end in tmux", .serialized, .timeLimit(.minutes(3)))
struct EndToEndTests {
    let session = "adderlab-e2e-\(getpid())"

    /// The adderlab binary built next to this test bundle.
    var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("adderlab").path
    }

    /// Runs tmux and returns what it printed (standard output and error together).
    @discardableResult
    func tmux(_ args: [String]) throws -> String {
        try Subprocess.run(["tmux", "-u"] + args, mergeErrors: true).out
    }

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
        try tmux(["new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", dir,
                  "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color PS1='E2E$ ' bash --norc --noprofile"])
        defer { _ = try? tmux(["kill-session", "-t", session]) }
        _ = try waitFor(10, "the shell prompt") { $0.contains("E2E$") }
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

    /// TERM=dumb cannot show the dashboard: a clear message, exit 1, and a clean shell line.
    @Test func dumbTerminalIsRefusedCleanly() throws {
        let dir = temporaryDirectory("dumb")
        try tmux(["new-session", "-d", "-s", session + "-dumb", "-x", "220", "-y", "20", "-c", dir,
                  "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color PS1='E2E$ ' bash --norc --noprofile"])
        defer { _ = try? tmux(["kill-session", "-t", session + "-dumb"]) }
        func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", session + "-dumb"]) }
        var s = ""
        for _ in 0..<100 where !(s.contains("E2E$")) { s = try screen(); usleep(100_000) }
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
