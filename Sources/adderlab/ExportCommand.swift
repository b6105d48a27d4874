import AdderTrain
import ArgumentParser
import Foundation

/// `adderlab export`: copy runs' config.yaml and metrics.jsonl somewhere to keep or share.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Copy runs' config.yaml and metrics.jsonl (no checkpoints) to a directory, optionally thinning per-step records."
    )

    @Argument(help: "Run directories (or a runs directory, meaning every run in it).") var runs: [String]
    @Option(name: .long, help: "The destination directory.") var to: String
    @Option(name: .long, help: "Keep every n-th per-step record (evaluations, layers and events are all kept).") var stepEvery = 1

    func run() throws {
        var dirs: [String] = []
        for r in runs {
            if FileManager.default.fileExists(atPath: r + "/config.yaml") { dirs.append(r) } else {
                let inner = RunReader.runDirectories(in: r)
                if inner.isEmpty { throw failure("error: \(r) is neither a run directory (no config.yaml) nor a directory of runs") }
                dirs += inner
            }
        }
        for d in dirs {
            do { print(try RunExport.export(d, into: to, stepEvery: stepEvery)) } catch { throw failure("error: \(error)") }
        }
    }
}
