import AdderCore
import AdderTrain
import ArgumentParser
import Foundation

extension SVGPlot.Metric: ExpressibleByArgument {}
extension SVGPlot.Abscissa: ExpressibleByArgument {}

/// `adderlab plot`: a figure of runs as a standalone SVG file.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot runs' test accuracy, training loss or learning rate as an SVG figure (per run, or per group of seeds with a min–max band)."
    )

    @Argument(help: "Run directories (or a runs directory, meaning every run in it).")
    var runs: [String]

    @Option(name: .long, help: "What to plot: test-accuracy, training-loss or learning-rate.")
    var metric: SVGPlot.Metric = .testAccuracy

    @Option(name: .long, help: "The x axis: step, epoch or time.")
    var x: SVGPlot.Abscissa = .step

    @Flag(name: .long, help: "One curve per group of runs that differ only in their seed: the mean, with the min–max band.")
    var group = false

    @Option(name: .long, help: "The figure's title (default: what is plotted).")
    var title: String?

    @Option(name: .long, help: "The SVG file to write (its directory must exist).")
    var out: String

    func validate() throws {
        let name = (out as NSString).lastPathComponent
        guard name.lowercased().hasSuffix(".svg"), name.count > 4 else {
            throw ValidationError("--out must name an .svg file, got '\(out)'")
        }
    }

    func run() throws {
        let target = URL(fileURLWithPath: out)
        let parent = target.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw failure("error: --out \(out): the directory \(parent) does not exist")
        }
        let dirs = try expandRunDirectories(runs)
        // The figure never goes into a run directory: its files belong to the run's writer.
        let realParent = resolved(parent)
        if let inside = dirs.first(where: { let d = resolved($0); return realParent == d || realParent.hasPrefix(d + "/") }) {
            throw failure("error: --out \(out) is inside the run directory \(inside); write the figure elsewhere")
        }
        if [RunFiles.configName, RunFiles.metricsName].contains(target.lastPathComponent) {
            throw failure("error: --out \(out) would replace a run's \(target.lastPathComponent)")
        }
        let snaps = try readRuns(dirs)
        let plot = SVGPlot(runs: snaps, metric: metric, x: x, grouped: group, title: title ?? "\(metric.label) by \(x.rawValue)")
        if group && x == .time && plot.series.count < snaps.count {
            Console.err("warning: runs seldom share exact times, so with --x time a group's mean joins single runs' points; --x step or --x epoch lines the seeds up\n")
        }
        if !plot.series.contains(where: { s in s.points.contains { $0.x.isFinite && $0.y.isFinite } }) {
            Console.err("warning: the runs have no \(metric.label) values; the figure says \"no data\"\n")
        }
        let data = Data(plot.render().utf8)
        do { try AtomicFile.write(data, to: target) } catch { throw failure("error: \(error)") }
        Console.line("wrote \(out) (\(plot.series.count) series, \(data.count) bytes)")
    }

    /// `path` with its symbolic links and `..` resolved, when it exists; as given otherwise.
    private func resolved(_ path: String) -> String {
        guard let r = realpath(path, nil) else { return path }
        defer { free(r) }
        return String(cString: r)
    }
}
