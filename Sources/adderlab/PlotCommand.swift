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

    @Flag(name: .long, help: "Draw one run's 2-D test-set features (a run with featureDimensions: 2): a scatter, one colour per class.")
    var features = false

    @Option(name: .long, help: "With --features: the evaluation at this step (default: the last).")
    var step: Int?

    @Option(name: .long, help: "The SVG file to write (its directory must exist).")
    var out: String

    func validate() throws {
        let name = (out as NSString).lastPathComponent
        guard name.lowercased().hasSuffix(".svg"), name.count > 4 else {
            throw ValidationError("--out must name an .svg file, got '\(out)'")
        }
        if features && runs.count != 1 { throw ValidationError("--features draws one run: give one run directory") }
        if step != nil && !features { throw ValidationError("--step goes with --features") }
        if let step, step < 0 { throw ValidationError("--step must be 0 or more, got \(step)") }
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
        if [RunFiles.configName, RunFiles.metricsName, RunFiles.featuresName].contains(target.lastPathComponent) {
            throw failure("error: --out \(out) would replace a run's \(target.lastPathComponent)")
        }
        if features { return try writeFeatures(dirs, to: target) }
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

    /// The scatter of one run's features at `--step` (or its last evaluation).
    private func writeFeatures(_ dirs: [String], to target: URL) throws {
        guard dirs.count == 1, let dir = dirs.first else {
            throw failure("error: --features draws one run, and \(runs[0]) holds \(dirs.count) runs; give one run directory")
        }
        let config: ExperimentConfig
        do { config = try RunDirectory.readConfig(dir) } catch { throw failure("error: \(error)") }
        var file = FeaturesFile(path: RunFiles(dir).features)
        file.readToEnd()
        for problem in file.problems { Console.err("warning: \(dir)/\(problem)\n") }
        guard !file.records.isEmpty else {
            let why = config.featureDimensions == 0 ? "its model has no feature layer (featureDimensions: 2 adds one)" : "it has not been evaluated yet"
            throw failure("error: \(dir) has no feature records: \(why)")
        }
        let record: FeatureRecord
        if let step {
            guard let r = file.records.first(where: { $0.step == step }) else {
                throw failure("error: \(dir) has no features at step \(step); it has them at steps \(file.records.map { String($0.step) }.joined(separator: ", "))")
            }
            record = r
        } else {
            record = file.records[file.records.count - 1]
        }
        let scatter = FeatureScatter(record: record, dataset: config.dataset)
        let defaultTitle = "\(config.name): features at step \(record.step) (epoch \(String(format: "%.2g", record.epoch)))"
        let data = Data(scatter.svg(title: title ?? defaultTitle).utf8)
        do { try AtomicFile.write(data, to: target) } catch { throw failure("error: \(error)") }
        Console.line("wrote \(out) (\(record.count) points of \(scatter.classNames.count) classes at step \(record.step), \(data.count) bytes)")
    }

    /// `path` with its symbolic links and `..` resolved, when it exists; as given otherwise.
    private func resolved(_ path: String) -> String {
        guard let r = realpath(path, nil) else { return path }
        defer { free(r) }
        return String(cString: r)
    }
}
