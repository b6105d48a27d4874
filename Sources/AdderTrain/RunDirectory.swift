import AdderNN
import Foundation

/// A problem with a run or its directory, with the path or value it concerns.
public struct RunError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The files of one run (DESIGN.md §4):
///
///     <runs>/<name>-<timestamp>/
///       config.yaml             the resolved experiment
///       metrics.jsonl           one JSON object per record, written (unbuffered) as it happens
///       events.out.tfevents.*   the same scalars for TensorBoard
///       checkpoints/            latest.safetensors and epoch-N.safetensors, written atomically
///       run.log                 human-readable log
public final class RunDirectory {
    public let path: String
    private let metrics: FileHandle
    private let logHandle: FileHandle
    let tensorBoard: TensorBoardWriter

    public var configPath: String { path + "/config.yaml" }
    public var metricsPath: String { path + "/metrics.jsonl" }
    public var logPath: String { path + "/run.log" }
    public var checkpointsPath: String { path + "/checkpoints" }
    public var latestCheckpoint: String { checkpointsPath + "/latest.safetensors" }

    /// Makes `<runsDirectory>/<name>-<yyyyMMdd-HHmmss>` (with a numeric suffix if taken)
    /// with its config.yaml, and returns its path; the run opens it when it starts.
    public static func create(in runsDirectory: String, name: String, config: ExperimentConfig) throws(RunError) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        let stamp = f.string(from: Date())
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: runsDirectory, withIntermediateDirectories: true) } catch {
            throw RunError("cannot create the runs directory \(runsDirectory): \(error.localizedDescription)")
        }
        var dir = "\(runsDirectory)/\(name)-\(stamp)"
        var n = 2
        while fm.fileExists(atPath: dir) { dir = "\(runsDirectory)/\(name)-\(stamp)-\(n)"; n += 1 }
        do { try fm.createDirectory(atPath: dir + "/checkpoints", withIntermediateDirectories: true) } catch {
            throw RunError("cannot create run directory \(dir): \(error.localizedDescription)")
        }
        do { try AtomicFile.write(Data(config.tree.yaml().utf8), to: URL(fileURLWithPath: dir + "/config.yaml")) } catch {
            throw RunError("cannot write \(dir)/config.yaml: \(error)")
        }
        return dir
    }

    /// Opens an existing run directory for appending (resuming).
    public init(path: String) throws(RunError) {
        self.path = path
        let fm = FileManager.default
        for file in ["metrics.jsonl", "run.log"] where !fm.fileExists(atPath: path + "/" + file) {
            _ = fm.createFile(atPath: path + "/" + file, contents: nil)
        }
        try? fm.createDirectory(atPath: path + "/checkpoints", withIntermediateDirectories: true)
        do {
            metrics = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/metrics.jsonl"))
            logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/run.log"))
            try metrics.seekToEnd()
            try logHandle.seekToEnd()
            tensorBoard = try TensorBoardWriter(directory: path)
        } catch {
            throw RunError("cannot open the files of run directory \(path): \(error.localizedDescription)")
        }
    }

    /// Reads config.yaml of a run directory.
    public static func readConfig(_ path: String) throws(RunError) -> ExperimentConfig {
        let file = path + "/config.yaml"
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw RunError("\(file): missing or unreadable; is \(path) a run directory?")
        }
        do {
            return try ExperimentConfig(tree: try ConfigValue.parse(yaml: text), file: file)
        } catch {
            throw RunError(ConfigError(file: file, path: error.path, message: error.message, line: error.line).description)
        }
    }

    func append(_ record: JSON.Value) {
        metrics.write(Data((JSON.encode(record) + "\n").utf8))
    }

    func log(_ line: String) {
        logHandle.write(Data((line + "\n").utf8))
    }

    /// Keeps only the metrics records at or before `step` in the run directory at `path`
    /// (a resumed run repeats the steps after its checkpoint). The file is replaced
    /// atomically; call it before opening the directory for appending.
    static func truncateMetrics(in path: String, after step: Int) throws(RunError) {
        let metricsPath = path + "/metrics.jsonl"
        guard let data = FileManager.default.contents(atPath: metricsPath), let text = String(data: data, encoding: .utf8) else { return }
        var kept: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = obj["step"] as? Int else { continue }  // a torn last line from a kill is dropped
            if s <= step { kept.append(line) }
        }
        do {
            try AtomicFile.write(Data((kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).utf8), to: URL(fileURLWithPath: metricsPath))
        } catch {
            throw RunError("cannot rewrite \(metricsPath): \(error)")
        }
    }

    deinit {
        try? metrics.close()
        try? logHandle.close()
    }
}
