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

    @Option(name: .long, help: "Kernel threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if experiment == nil && resume == nil { throw ValidationError("name an experiment file, or --resume RUN_DIR") }
        if experiment != nil && resume != nil { throw ValidationError("give an experiment or --resume, not both") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        if let threads { Parallel.threads = threads }
        var runs: [TrainingRun] = []
        do {
            if let resume {
                runs = [try TrainingRun(resuming: resume)]
            } else if let experiment {
                let exp = try Experiment.load(path: ExperimentPaths.resolve(experiment), overrides: overrides)
                for config in exp.runs { runs.append(try TrainingRun(config: config, runsDirectory: runsDir)) }
            }
        } catch let e as ConfigError {
            throw failure("error: \(e)")
        } catch let e as RunError {
            throw failure("error: \(e)")
        }
        let started = runs
        let stopper = SignalStopper { for r in started { r.stop() } }
        defer { stopper.cancel() }
        // Runs share the cores: they train one after another when several are given,
        // except that each one's kernels use every core.
        let progress = Progress(runs: runs)
        for r in runs {
            r.start()
            while !r.wait(seconds: progress.interval) { progress.draw() }
            progress.draw()
            if stopper.fired { break }
        }
        progress.finish()
        let snaps = runs.map { $0.snapshot() }
        if snaps.contains(where: { $0.state != .finished }) { throw ExitCode(1) }
    }
}

/// Prints `message` to standard error and gives the exit status 1 to throw.
func failure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    return ExitCode(1)
}

/// Resolves "quickstart" to experiments/quickstart.yaml when the bare name is not a file.
enum ExperimentPaths {
    static func resolve(_ name: String) -> String {
        if FileManager.default.fileExists(atPath: name) { return name }
        for candidate in ["experiments/\(name)", "experiments/\(name).yaml"] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        return name
    }
}

/// Stops runs on SIGINT/SIGTERM (once); a second signal exits at once.
/// Lives on the main thread; the signal handlers share only `flag`.
final class SignalStopper {
    private final class Flag: Sendable { let value = Atomic<Bool>(false) }
    private let flag = Flag()
    private var sources: [any DispatchSourceSignal] = []
    var fired: Bool { flag.value.load(ordering: .relaxed) }

    init(onSignal: @escaping @Sendable () -> Void) {
        let flag = self.flag
        sources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                if flag.value.exchange(true, ordering: .relaxed) { exit(130) }
                FileHandle.standardError.write(Data("\nstopping: finishing the current step and writing checkpoints (again to quit at once)\n".utf8))
                onSignal()
            }
            s.resume()
            return s
        }
    }

    func cancel() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL)
    }
}

/// One live line per run on a terminal; plain log lines otherwise.
final class Progress {
    let runs: [TrainingRun]
    let tty = isatty(STDOUT_FILENO) == 1
    var drawnLines = 0
    var lastPlain = Date.distantPast
    var reportedEvals: [Int] = []
    var reportedStates: [Int] = []
    var interval: Double { tty ? 0.25 : 1 }

    init(runs: [TrainingRun]) {
        self.runs = runs
        reportedEvals = Array(repeating: 0, count: runs.count)
        reportedStates = Array(repeating: 0, count: runs.count)
        if !tty { for r in runs { emit("run \(r.config.name) → \(r.directory ?? "(memory)")") } }
    }

    func line(_ s: RunSnapshot) -> String {
        let epoch = String(format: "epoch %.2f/%d", s.epoch, s.config.epochs)
        let loss = s.finalLoss.map { String(format: "loss %.4f", $0) } ?? "loss -"
        let acc = s.finalAccuracy.map { String(format: "acc %.2f%%", $0 * 100) } ?? "acc -"
        let eta = s.remainingSeconds.map { "ETA " + formatDuration($0) } ?? ""
        return "\(s.config.name)  \(epoch)  step \(s.step)/\(s.totalSteps)  \(loss)  \(acc)  \(Int(s.imagesPerSecond)) img/s  \(eta)  [\(s.state.rawValue)]"
    }

    func draw() {
        let snaps = runs.map { $0.snapshot() }
        if tty {
            var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
            for s in snaps { out += "\r\u{1B}[2K" + line(s) + "\n" }
            drawnLines = snaps.count
            FileHandle.standardOutput.write(Data(out.utf8))
            return
        }
        for (i, s) in snaps.enumerated() {
            for e in s.evals.dropFirst(reportedEvals[i]) {
                emit(String(format: "%@ eval step %d epoch %.2f: test accuracy %.2f%% test loss %.4f train accuracy %.2f%%",
                             s.config.name, e.step, e.epoch, e.testAccuracy * 100, e.testLoss, e.trainAccuracy * 100))
            }
            reportedEvals[i] = s.evals.count
            let states = s.events.filter { $0.kind == "state" }
            for e in states.dropFirst(reportedStates[i]) { emit("\(s.config.name) step \(e.step): \(e.detail)") }
            reportedStates[i] = states.count
        }
        if Date().timeIntervalSince(lastPlain) >= 10 {
            for s in snaps where s.state == .running { emit(line(s)) }
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
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
