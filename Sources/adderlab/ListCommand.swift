import AdderTrain
import ArgumentParser
import Foundation

/// `adderlab list`: every experiment with its description; broken files are reported
/// without hiding the others.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the experiments in experiments/.")

    @Option(name: .long, help: "The experiments directory.")
    var dir = Experiment.defaultDirectory

    func run() throws {
        let entries = Experiment.list(directory: dir)
        if entries.isEmpty { throw failure("no .yaml experiments in \(dir)") }
        var broken = 0
        var rows: [[String]] = []
        for (path, result) in entries {
            let file = (path as NSString).lastPathComponent
            switch result {
            case .success(let e):
                let r = e.runs[0]
                rows.append([file, e.runs.count == 1 ? "1 run" : "\(e.runs.count) runs", "\(r.model.rawValue)/\(r.dataset.rawValue)", e.description])
            case .failure(let err):
                broken += 1
                rows.append([file, "BROKEN", "", err.description])
            }
        }
        Console.line(table(header: ["experiment", "runs", "model/data", "description"], rows: rows, rightAlign: false))
        if broken > 0 { throw failure("\(broken) experiment file(s) could not be read") }
    }
}
