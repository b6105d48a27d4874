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

    @Option(name: .long, help: "Where run directories go (default: runs).")
    var runsDir: String?

    @Option(name: .long, help: "Continue the run in this directory from its last checkpoint.")
    var resume: String?

    @Flag(name: .long, help: "Print the experiment's runs (index, label, run name) and train nothing.")
    var list = false

    @Option(name: .long, parsing: .unconditional,
            help: "Train only the run with this index, 0 to runs − 1 as --list shows (e.g. --index $SLURM_ARRAY_TASK_ID); with --list, list only it.")
    var index: String?

    @OptionGroup var queueOptions: QueueOptions

    /// The default of `--runs-dir`.
    static let defaultRunsDirectory = "runs"

    func validate() throws {
        if experiment == nil && resume == nil { throw ValidationError("name an experiment file, or --resume RUN_DIR") }
        if experiment != nil && resume != nil { throw ValidationError("give an experiment or --resume, not both") }
        if resume != nil && list { throw ValidationError("--list shows the runs of an experiment file; it does not go with --resume") }
        if resume != nil && index != nil { throw ValidationError("--index picks a run of an experiment file; it does not go with --resume, which continues one run directory") }
        if list {
            let training = [("--runs-dir", runsDir != nil), ("--parallel", queueOptions.parallel != nil), ("--threads-per-run", queueOptions.threadsPerRun != nil)]
            if let (flag, _) = training.first(where: { $0.1 }) {
                throw ValidationError("--list only prints the runs and trains nothing; \(flag) is for training")
            }
        }
        if index != nil && queueOptions.parallel != nil { throw ValidationError("--index trains one run; --parallel is for training a whole group") }
        if let index { _ = try RunCommand.parseIndex(index) }
    }

    /// `--index`'s value as a number (its range is checked once the experiment is read).
    static func parseIndex(_ text: String) throws -> Int {
        guard let k = Int(text), k >= 0, text.allSatisfy(\.isASCII) else {
            throw ValidationError("--index '\(text.prefix(100))' is not a run index: it must be a whole number from 0 (`adderlab run EXPERIMENT --list` shows the runs)")
        }
        return k
    }

    /// The runs `--index` and `--list` pick: all of them, or the one at `--index`, with their indexes.
    static func pick(_ e: Experiment, index: String?, file: String) throws -> [Int] {
        guard let index else { return Array(e.runs.indices) }
        let k = try parseIndex(index), n = e.runs.count
        guard k < n else {
            let range = n == 1 ? "its one run has index 0" : "its runs have indexes 0 to \(n - 1)"
            throw failure("error: --index \(k) is out of range: \(file) has \(n) run\(n == 1 ? "" : "s"); \(range)")
        }
        return [k]
    }

    func run() throws {
        // Started by Open MPI's mpirun with more than one rank: one run, data-parallel over them.
        let ranks: MPICollective?
        do { ranks = try MPICollective.fromEnvironment() } catch { throw failure("error: \(error)") }
        defer { ranks?.finalize() }
        // Rank 0 speaks for the job; the others only train.
        let speaks = (ranks?.rank ?? 0) == 0
        func refuse(_ message: String) -> ExitCode { speaks ? failure(message) : ExitCode(1) }
        // Each run (and its directory) is made when the queue starts it, not before.
        var work: [RunQueue.Work] = []
        if let resume {
            // Checked now so that a locked or unreadable run is refused before anything starts
            // (with ranks, by the run itself, which tells every rank).
            if ranks == nil {
                do { _ = try TrainingRun(resuming: resume) } catch { throw failure("error: \(error)") }
            }
            work = [.resume(directory: resume)]
        } else if let experiment {
            let file = Experiment.resolve(experiment)
            let loaded: Experiment
            do { loaded = try Experiment.load(path: file, overrides: overrides) } catch { throw refuse("error: \(error)") }
            let picked: [Int]
            do { picked = try RunCommand.pick(loaded, index: index, file: file) } catch { throw speaks ? error : ExitCode(1) }
            if list {
                guard speaks else { return }
                let rows = picked.map { ["\($0)", loaded.labels[$0].isEmpty ? "-" : loaded.labels[$0], loaded.runs[$0].name] }
                let text = table(header: ["index", "label", "run"], rows: rows, rightAlign: false)
                Console.line(text.split(separator: "\n").map { String($0.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n"))
                return
            }
            if let ranks, picked.count > 1 {
                throw refuse("error: under mpirun one run trains over all \(ranks.size) ranks, and \(file) has \(picked.count) runs: pick one with --index K (`adderlab run \(experiment) --list` shows them)")
            }
            if index != nil && speaks { emit("run \(picked[0]) of \(loaded.runs.count) in \(file): \(loaded.runs[picked[0]].name)") }
            work = picked.map { .new(loaded.runs[$0]) }
        }
        if let ranks, queueOptions.parallel != nil {
            throw refuse("error: under mpirun the \(ranks.size) ranks train one run together; --parallel is for several runs in one process")
        }
        let split = RunQueue.split(runs: work.count, limit: queueOptions.parallel,
                                   threadsPerRun: queueOptions.threadsPerRun ?? ranks.map { _ in RunCommand.threadsPerRank() })
        let queue = RunQueue(runsDirectory: runsDir ?? RunCommand.defaultRunsDirectory, limit: split.limit, threadsPerRun: split.threadsPerRun,
                             collective: ranks)
        guard speaks else {
            // Another rank: trains what rank 0 trains, silently (rank 0 reports, and stops the run on Ctrl-C).
            let stopper = SignalStopper {}
            defer { stopper.cancel() }
            queue.enqueue(work)
            while !queue.wait(seconds: 1) {}
            if queue.contents().started.contains(where: { $0.snapshot().state != .finished }) { throw ExitCode(1) }
            return
        }
        let stopper = SignalStopper {
            Console.err("\nstopping: finishing the current step and writing checkpoints (again to quit at once)\n")
            queue.cancelAll()
            for r in queue.contents().started { r.stop() }
        }
        defer { stopper.cancel() }
        let progress = Progress(queue: queue)
        if work.count > 1 {
            progress.note("\(work.count) runs, \(split.limit) at a time, \(split.threadsPerRun) thread\(split.threadsPerRun == 1 ? "" : "s") each")
        }
        queue.enqueue(work)
        while !queue.wait(seconds: progress.interval) {
            // A run that started just as the signal came is stopped too.
            if stopper.fired { for r in queue.contents().started where !r.snapshot().state.isTerminal { r.stop() } }
            progress.draw()
        }
        progress.finish()
        let contents = queue.contents()
        let failed = !contents.rejected.isEmpty || contents.started.contains { $0.snapshot().state != .finished }
        if failed || stopper.fired || contents.started.count < work.count { throw ExitCode(1) }
    }
}

extension RunCommand {
    /// Kernel threads of each rank by default: this host's cores shared among the ranks
    /// mpirun started on it (OMPI_COMM_WORLD_LOCAL_SIZE).
    static func threadsPerRank(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        let local = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init).map { min(max($0, 1), 4096) } ?? 1
        return max(1, ProcessInfoCores.active / local)
    }
}

/// Prints `message` to standard error and gives the exit status 1 to throw.
func failure(_ message: String) -> ExitCode {
    Console.err(message + "\n")
    return ExitCode(1)
}

/// One live line per started run (and one for the queue) on a terminal; plain log lines otherwise.
final class Progress {
    let queue: RunQueue
    private(set) var runs: [TrainingRun] = []
    private var reportedRejections = 0
    /// Live lines on a terminal; plain log lines otherwise, and under mpirun (which hands each
    /// rank a pseudo-terminal even when its own output goes to a file).
    let tty: Bool
    var drawnLines = 0
    /// When plain mode last printed the running runs' progress (every 10 s, the first 10 s after the start).
    var lastPlain = Date()
    var reportedEvals: [Int] = []
    var reportedStates: [Int] = []
    var interval: Double { tty ? 0.25 : 1 }

    init(queue: RunQueue) {
        self.queue = queue
        tty = isatty(STDOUT_FILENO) == 1 && queue.collective == nil
    }

    /// A line above the live lines.
    func note(_ line: String) { emit(line) }

    /// Takes in the runs the queue started since the last call, and reports rejected ones.
    private func follow() -> Int {
        let c = queue.contents()
        for r in c.started.dropFirst(runs.count) { add(r) }
        for r in c.rejected.dropFirst(reportedRejections) {
            if tty { clearLive() }
            emit("error: \(r.name): \(r.reason)")
        }
        reportedRejections = c.rejected.count
        return c.waiting.count
    }

    private func clearLive() {
        var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        for _ in 0..<drawnLines { out += "\r\u{1B}[2K\n" }
        if drawnLines > 0 { out += "\u{1B}[\(drawnLines)A" }
        Console.control(out)
        drawnLines = 0
    }

    private func add(_ r: TrainingRun) {
        runs.append(r)
        reportedEvals.append(0)
        reportedStates.append(0)
        if !tty { emit("run \(r.config.name) → \(r.directory ?? "(memory)")") }
    }

    func draw() {
        let waiting = follow()
        let snaps = runs.map { $0.snapshot() }
        if tty {
            var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
            // Runs are only ever added, below the lines drawn so far; the queue's line stays last.
            var lines = snaps.map { Console.visible($0.progressLine) }
            if waiting > 0 || drawnLines > snaps.count { lines.append(waiting > 0 ? "\(waiting) queued" : "") }
            for l in lines { out += "\r\u{1B}[2K" + l + "\n" }
            drawnLines = lines.count
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
            // New evaluations and state changes in the order they happened, however many
            // came since the last draw.
            let evals = s.evals.dropFirst(reportedEvals[i]).map { e in
                (e.time, String(format: "%@ eval step %d epoch %.2f: test accuracy %.2f%% test loss %.4f train accuracy %.2f%%",
                                s.config.name, e.step, e.epoch, e.testAccuracy * 100, e.testLoss, e.trainAccuracy * 100))
            }
            reportedEvals[i] = s.evals.count
            let states = s.events.filter { $0.kind == .state }
            let changes = states.dropFirst(reportedStates[i]).map { e in (e.time, "\(s.config.name) step \(e.step): \(e.detail)") }
            reportedStates[i] = states.count
            for (_, line) in (changes + evals).sorted(by: { $0.0 < $1.0 }) { emit(line) }
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
