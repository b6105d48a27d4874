import AdderCore
import AdderTrain
import ArgumentParser
import Dispatch
import Foundation
import Synchronization

/// `adderlab run`: train an experiment (one run or a group) headless.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train an experiment headless, writing run directories under --runs-dir.",
        discussion: "Ctrl-C stops every run after its current step and writes a checkpoint; `--resume RUN_DIR` continues it."
    )

    @Argument(help: "An experiment file (experiments/NAME.yaml or NAME).")
    var experiment: String?

    @Option(name: .customLong("set"), help: "Override a key of the experiment, e.g. --set optimizer.lr=0.05 (repeatable).")
    var overrides: [String] = []

    @Option(name: .long, help: "Where run directories go.")
    var runsDir = "runs"

    @Option(name: .long, help: "Continue the run in this directory from its last checkpoint.")
    var resume: String?

    @OptionGroup var threads: ThreadOption

    func validate() throws {
        if experiment == nil && resume == nil { throw ValidationError("name an experiment file, or --resume RUN_DIR") }
        if experiment != nil && resume != nil { throw ValidationError("give an experiment or --resume, not both") }
    }

    func run() throws {
        threads.apply()
        // Each run (and its directory) is made when it starts, not before.
        var makers: [() throws -> TrainingRun] = []
        do {
            if let resume {
                let run = try TrainingRun(resuming: resume)
                makers = [{ run }]
            } else if let experiment {
                let exp = try Experiment.load(path: Experiment.resolve(experiment), overrides: overrides)
                let runsDir = runsDir
                makers = exp.runs.map { config in { try TrainingRun(config: config, runsDirectory: runsDir) } }
            }
        } catch let e as ConfigError {
            throw failure("error: \(e)")
        } catch let e as RunError {
            throw failure("error: \(e)")
        }
        let started = StartedRuns()
        let stopper = SignalStopper {
            Console.err("\nstopping: finishing the current step and writing checkpoints (again to quit at once)\n")
            started.stopAll()
        }
        defer { stopper.cancel() }
        // Runs share the cores: they train one after another when several are given,
        // except that each one's kernels use every core.
        let progress = Progress()
        var failed = false
        for make in makers {
            if stopper.fired { break }
            let r: TrainingRun
            do { r = try make() } catch {
                progress.finish()
                throw failure("error: \(error)")
            }
            started.add(r)
            progress.add(r)
            r.start()
            while !r.wait(seconds: progress.interval) { progress.draw() }
            progress.draw()
            if r.snapshot().state != .finished { failed = true }
        }
        progress.finish()
        if failed || stopper.fired { throw ExitCode(1) }
    }
}

/// Prints `message` to standard error and gives the exit status 1 to throw.
func failure(_ message: String) -> ExitCode {
    Console.err(message + "\n")
    return ExitCode(1)
}

/// The runs started so far, for the signal handler to stop.
final class StartedRuns: Sendable {
    private let state = Mutex<(runs: [TrainingRun], stopping: Bool)>(([], false))
    /// A run added after a stop was asked for is stopped at once (its first step checkpoints it).
    func add(_ r: TrainingRun) {
        if state.withLock({ $0.runs.append(r); return $0.stopping }) { r.stop() }
    }
    func stopAll() {
        for r in state.withLock({ s -> [TrainingRun] in s.stopping = true; return s.runs }) { r.stop() }
    }
}

/// One live line per run on a terminal; plain log lines otherwise.
final class Progress {
    private(set) var runs: [TrainingRun] = []
    let tty = isatty(STDOUT_FILENO) == 1
    var drawnLines = 0
    var lastPlain = Date.distantPast
    var reportedEvals: [Int] = []
    var reportedStates: [Int] = []
    var interval: Double { tty ? 0.25 : 1 }

    func add(_ r: TrainingRun) {
        runs.append(r)
        reportedEvals.append(0)
        reportedStates.append(0)
        if !tty { emit("run \(r.config.name) → \(r.directory ?? "(memory)")") }
    }

    func draw() {
        let snaps = runs.map { $0.snapshot() }
        if tty {
            var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
            // Only runs still to come are ever added, below the lines drawn so far.
            for s in snaps { out += "\r\u{1B}[2K" + Console.visible(s.progressLine) + "\n" }
            drawnLines = snaps.count
            Console.control(out)
            return
        }
        for (i, s) in snaps.enumerated() {
            // A resumed run's history (loaded when it starts) was reported by its first process:
            // wait for the resume to be recorded, then report only what follows it.
            if runs[i].resumeRequested, !s.state.isTerminal, !s.events.contains(where: { $0.kind == .resumedFromCheckpoint }) { continue }
            if reportedEvals[i] == 0, reportedStates[i] == 0, let resumed = s.events.lastIndex(where: { $0.kind == .resumedFromCheckpoint }) {
                reportedEvals[i] = s.evals.filter { $0.time < s.events[resumed].time }.count
                reportedStates[i] = s.events[..<resumed].filter { $0.kind == .state }.count
            }
            for e in s.evals.dropFirst(reportedEvals[i]) {
                emit(String(format: "%@ eval step %d epoch %.2f: test accuracy %.2f%% test loss %.4f train accuracy %.2f%%",
                             s.config.name, e.step, e.epoch, e.testAccuracy * 100, e.testLoss, e.trainAccuracy * 100))
            }
            reportedEvals[i] = s.evals.count
            let states = s.events.filter { $0.kind == .state }
            for e in states.dropFirst(reportedStates[i]) { emit("\(s.config.name) step \(e.step): \(e.detail)") }
            reportedStates[i] = states.count
        }
        if Date().timeIntervalSince(lastPlain) >= 10 {
            for s in snaps where s.state == .running { emit(s.progressLine) }
            lastPlain = Date()
        }
    }

    func finish() {
        draw()
        for s in runs.map({ $0.snapshot() }) where !s.message.isEmpty {
            emit("\(s.config.name): \(s.state.rawValue): \(s.message)")
        }
    }
}

/// Writes a line to standard output unbuffered, so log lines reach a pipe or file as they happen.
func emit(_ line: String) {
    Console.out(line + "\n")
}
