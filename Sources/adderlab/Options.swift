import AdderCore
import AdderNN
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

extension ModelKind: ExpressibleByArgument {}
