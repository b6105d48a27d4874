import AdderCore
import AdderNN
import ArgumentParser

/// `--threads`, declared once for every command that trains or measures.
struct ThreadOption: ParsableArguments {
    @Option(name: .long, help: "Kernel threads, 1 to 256 (default: all cores).") var threads: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be from 1 to 256, got \(threads)") }
    }

    func apply() { if let threads { Parallel.threads = threads } }
}

extension ModelKind: ExpressibleByArgument {}
