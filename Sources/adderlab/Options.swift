import AdderCore
import AdderNN
import AdderTrain
import ArgumentParser

/// `--threads`, declared once for every command that trains or measures.
struct ThreadOption: ParsableArguments {
    @Option(name: .long, help: "Kernel threads, 1 to 256 (default: all cores).") var threads: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be from 1 to 256, got \(threads)") }
    }

    /// The thread count to pass down: the option, or every active core.
    var count: Int { threads ?? ProcessInfoCores.active }
}

/// `--parallel` and `--threads-per-run`: how the runs of a group share the cores, for
/// `run` and the dashboard (see `RunQueue.split`).
struct QueueOptions: ParsableArguments {
    @Option(name: .long, help: "Runs that train at once, 1 to 256 (default: so that runs × threads per run = cores).")
    var parallel: Int?

    @Option(name: .long, help: "Kernel threads of each run, 1 to 256 (default: cores ÷ runs at once; a single run gets every core).")
    var threadsPerRun: Int?

    func validate() throws {
        if let parallel, parallel < 1 || parallel > RunQueue.maximumLimit {
            throw ValidationError("--parallel must be from 1 to \(RunQueue.maximumLimit), got \(parallel)")
        }
        if let threadsPerRun, threadsPerRun < 1 || threadsPerRun > 256 {
            throw ValidationError("--threads-per-run must be from 1 to 256, got \(threadsPerRun)")
        }
    }
}

extension ModelKind: ExpressibleByArgument {}
