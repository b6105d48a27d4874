import AdderTrain
import ArgumentParser
import Foundation

/// `adderlab compare`: a table of runs read from their directories.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs from their directories: config differences, accuracy, loss, time, speed."
    )

    @Argument(help: "Run directories (or a runs directory, meaning every run in it).")
    var runs: [String]

    @Flag(name: .long, help: "Comma-separated values.") var csv = false
    @Flag(name: .long, help: "A JSON array.") var json = false
    @Flag(name: .long, help: "A Markdown table.") var markdown = false

    func validate() throws {
        if [csv, json, markdown].filter({ $0 }).count > 1 { throw ValidationError("choose one of --csv, --json, --markdown") }
    }

    func run() throws {
        let snaps = try readRuns(try expandRunDirectories(runs))
        let report = Comparison(snapshots: snaps)
        if json { Console.line(report.json()) } else if csv { Console.line(report.csv()) } else if markdown { Console.line(report.markdown()) } else {
            Console.line(table(header: report.header, rows: report.rows, rightAlign: true))
        }
    }
}

/// Run directories named on the command line; a directory holding runs stands for all of them.
func expandRunDirectories(_ args: [String]) throws -> [String] {
    var dirs: [String] = []
    for r in args {
        if RunFiles(r).exists { dirs.append(r) } else {
            let inner = RunReader.runDirectories(in: r)
            if inner.isEmpty { throw failure("error: \(r) is neither a run directory (no config.yaml) nor a directory of runs") }
            dirs += inner
        }
    }
    return dirs
}

/// The runs in `dirs`, read: a broken run directory, or what could not be read of a metrics
/// file, is named on standard error and the others are still used; none readable is an error.
func readRuns(_ dirs: [String]) throws -> [RunSnapshot] {
    var snaps: [RunSnapshot] = []
    for d in dirs {
        do { snaps.append(try RunReader.read(directory: d)) } catch {
            Console.err("warning: skipped \(d): \(error)\n")
        }
    }
    for s in snaps where !s.readProblems.isEmpty {
        Console.err("warning: \(s.directory ?? s.config.name)/\(RunFiles.metricsName): \(s.readProblems)\n")
    }
    if snaps.isEmpty { throw failure("error: none of the \(dirs.count) run directories could be read") }
    return snaps
}
