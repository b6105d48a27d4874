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
        for d in try expandRunDirectories(runs) {
            do { Console.line(try RunExport.export(d, into: to, stepEvery: stepEvery)) } catch { throw failure("error: \(error)") }
        }
    }
}
