import AdderCore
import AdderNN
import Foundation

/// A problem with a run or its directory, with the path or value it concerns.
public struct RunError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The layout of one run directory (DESIGN.md §4); every path of a run comes from here:
///
///     <runs>/<name>-<timestamp>/
///       config.yaml             the resolved experiment
///       metrics.jsonl           one JSON object per record, written (unbuffered) as it happens
///       histograms.jsonl        per-layer weight and output distributions, one JSON object per record
///       events.out.tfevents.*   the same scalars (and the histograms) for TensorBoard
///       checkpoints/            latest.safetensors and epoch-N.safetensors, written atomically
///       features.jsonl          2-D test-set features per evaluation (runs with `featureDimensions: 2`)
///       run.log                 human-readable log
///       controls                controls sent by other processes, a line each (see `RunControl`)
///       .lock                   held by the process writing the run (see `RunLock`)
public struct RunFiles: Sendable, Equatable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public static let configName = "config.yaml"
    public static let metricsName = "metrics.jsonl"
    public static let histogramsName = "histograms.jsonl"

    public var config: String { path + "/" + RunFiles.configName }
    public var metrics: String { path + "/" + RunFiles.metricsName }
    public var histograms: String { path + "/" + RunFiles.histogramsName }
    public var log: String { path + "/run.log" }
    /// Controls from other processes (the dashboard) to the process writing the run.
    public var controls: String { path + "/controls" }
    public static let featuresName = "features.jsonl"
    /// The 2-D features of the first test images at each evaluation (`FeatureRecord`),
    /// written only by runs whose model has a feature layer.
    public var features: String { path + "/" + RunFiles.featuresName }
    /// Where a restart from step 0 keeps the feature records written before.
    public var featuresBeforeRestart: String { beforeRestart("features") }
    /// Where a restart from step 0 keeps the records written before: named by the time,
    /// with a suffix when that name is taken.
    public var metricsBeforeRestart: String { beforeRestart("metrics") }
    /// The same for the histograms written before.
    public var histogramsBeforeRestart: String { beforeRestart("histograms") }

    private func beforeRestart(_ stem: String) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        let base = path + "/\(stem)-before-restart-\(f.string(from: Date()))"
        var name = base + ".jsonl", n = 2
        while InputFile.entryExists(name) { name = base + "-\(n).jsonl"; n += 1 }
        return name
    }
    /// The one-writer lock (see `RunLock`).
    public var lock: String { path + "/.lock" }
    public var checkpoints: String { path + "/checkpoints" }
    public var latestCheckpoint: String { checkpoints + "/latest.safetensors" }
    public func epochCheckpoint(_ epoch: Int) -> String { checkpoints + "/epoch-\(epoch).safetensors" }

    /// True when `path` holds a config.yaml (the mark of a run directory).
    public var exists: Bool { FileManager.default.fileExists(atPath: config) }

    /// Every checkpoint file in checkpoints/: latest first, then epoch-N from the newest N.
    public var checkpointCandidates: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? []
        let epochs = names.compactMap { n -> Int? in
            guard n.hasPrefix("epoch-"), n.hasSuffix(".safetensors") else { return nil }
            return Int(n.dropFirst(6).dropLast(12))
        }.sorted(by: >)
        return [latestCheckpoint] + epochs.map(epochCheckpoint)
    }
}

/// Run names become directory names: one path component of safe characters.
public enum RunName {
    public static let allowed = "letters, digits, '.', '_', '+' or '-', starting with a letter or digit, at most \(maximumLength) characters"
    public static let maximumLength = 200

    /// Nil when `name` can name a run directory, else what is wrong with it.
    public static func problem(_ name: String) -> String? {
        guard !name.isEmpty else { return "is empty" }
        guard name.unicodeScalars.count <= maximumLength else { return "is \(name.unicodeScalars.count) characters long" }
        let ok = name.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_" || c == "+" || c == "-"
        }
        guard ok else { return "holds a character that is not allowed" }
        let first = name.unicodeScalars.first!
        guard (first >= "a" && first <= "z") || (first >= "A" && first <= "Z") || (first >= "0" && first <= "9") else {
            return "does not start with a letter or digit"
        }
        return nil
    }
}

/// The writer of one run directory: appends records to metrics.jsonl and lines to
/// run.log, with TensorBoard events beside them. Every write reports failure (a full
/// disk, a file-size limit) instead of trapping; a record that could not be written
/// whole is cut back, so the file always ends with a complete line.
public final class RunDirectory {
    public let files: RunFiles
    public var path: String { files.path }
    private let metricsFD: Int32
    private let histogramsFD: Int32
    private let logFD: Int32
    /// features.jsonl, opened at the first feature record (most runs write none).
    private var featuresFD: Int32 = -1
    let tensorBoard: TensorBoardWriter
    private let lock: RunLock

    /// Refuses a run directory whose files or checkpoints folder are symbolic links (or
    /// not what they should be), so that nothing is written outside it; makes checkpoints/.
    static func checkInside(_ files: RunFiles) throws(RunError) {
        var st = stat()
        if lstat(files.checkpoints, &st) != 0 {
            guard mkdir(files.checkpoints, 0o755) == 0 else { throw RunError("cannot create \(FileFailure.posix("mkdir", files.checkpoints))") }
        } else if st.st_mode & S_IFMT != S_IFDIR {
            let what = st.st_mode & S_IFMT == S_IFLNK ? "a symbolic link" : "not a directory"
            throw RunError("\(files.checkpoints) is \(what); a run writes only files inside its directory")
        }
        for file in [files.metrics, files.histograms, files.features, files.log, files.controls] where lstat(file, &st) == 0 && st.st_mode & S_IFMT != S_IFREG {
            let what = st.st_mode & S_IFMT == S_IFLNK ? "a symbolic link" : "not a regular file"
            throw RunError("\(file) is \(what); a run writes only files inside its directory")
        }
    }

    /// Makes `<runsDirectory>/<name>-<yyyyMMdd-HHmmss>` (with a numeric suffix if taken,
    /// never reusing a directory) with its config.yaml, and returns its path.
    public static func create(in runsDirectory: String, name: String, config: ExperimentConfig) throws(RunError) -> String {
        if let problem = RunName.problem(name) {
            throw RunError("run name '\(name.debugDescription.dropFirst().dropLast())' \(problem); a run name is \(RunName.allowed)")
        }
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        let stamp = f.string(from: Date())
        do { try FileManager.default.createDirectory(atPath: runsDirectory, withIntermediateDirectories: true) } catch {
            throw RunError("cannot create the runs directory \(runsDirectory): \(error.localizedDescription)")
        }
        // mkdir fails when the name is taken, so two processes never share a directory.
        var dir = "\(runsDirectory)/\(name)-\(stamp)"
        var n = 2
        while mkdir(dir, 0o755) != 0 {
            let code = errno
            guard code == EEXIST, n < 10_000 else { throw RunError("cannot create run directory \(dir): \(FileFailure.explain(code))") }
            dir = "\(runsDirectory)/\(name)-\(stamp)-\(n)"; n += 1
        }
        let files = RunFiles(dir)
        do {
            try FileManager.default.createDirectory(atPath: files.checkpoints, withIntermediateDirectories: false)
            try AtomicFile.write(Data(config.tree.yaml().utf8), to: URL(fileURLWithPath: files.config))
        } catch {
            throw RunError("cannot set up run directory \(dir): \(error)")
        }
        return dir
    }

    /// Opens a run directory for appending, under its lock, after removing temporary
    /// files that a killed process left behind.
    public init(path: String, lock: RunLock) throws(RunError) {
        files = RunFiles(path)
        self.lock = lock
        try RunDirectory.checkInside(files)
        AtomicFile.removeStaleTemporaryFiles(in: path)
        AtomicFile.removeStaleTemporaryFiles(in: files.checkpoints)
        metricsFD = try RunDirectory.openAppend(files.metrics)
        do { histogramsFD = try RunDirectory.openAppend(files.histograms) } catch { close(metricsFD); throw error }
        do { logFD = try RunDirectory.openAppend(files.log) } catch { close(metricsFD); close(histogramsFD); throw error }
        do { tensorBoard = try TensorBoardWriter(directory: path) } catch {
            close(metricsFD); close(histogramsFD); close(logFD)
            throw RunError("cannot create the TensorBoard file in \(path): \(error)")
        }
    }

    static func openAppend(_ p: String) throws(RunError) -> Int32 {
        // O_NOFOLLOW: a link planted in the run directory cannot send writes elsewhere.
        let fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP { throw RunError("\(p) is a symbolic link; a run writes only files inside its directory") }
            throw RunError("cannot open \(FileFailure(path: p, problem: FileFailure.explain(code)))")
        }
        return fd
    }

    /// Reads config.yaml of a run directory.
    public static func readConfig(_ path: String) throws(RunError) -> ExperimentConfig {
        let file = RunFiles(path).config
        let text: String
        do { text = String(decoding: try InputFile.read(file, limit: YAMLEvents.maximumBytes), as: UTF8.self) } catch {
            throw RunError("\(error); is \(path) a run directory?")
        }
        do {
            return try ExperimentConfig(tree: try ConfigValue.parse(yaml: text), file: file)
        } catch {
            throw RunError(ConfigError(file: file, path: error.path, message: error.message, line: error.line).description)
        }
    }

    func append(_ record: JSON.Value) throws(RunError) {
        try RunDirectory.appendWhole(Data((JSON.encode(record) + "\n").utf8), fd: metricsFD, path: files.metrics)
    }

    /// Appends a histogram record to histograms.jsonl, whole or not at all.
    func append(_ record: HistogramRecord) throws(RunError) {
        try RunDirectory.appendWhole(Data((JSON.encode(record.json) + "\n").utf8), fd: histogramsFD, path: files.histograms)
    }

    /// Appends one feature record to features.jsonl, whole or not at all.
    func appendFeatures(_ record: FeatureRecord) throws(RunError) {
        if featuresFD < 0 { featuresFD = try RunDirectory.openAppend(files.features) }
        try RunDirectory.appendWhole(Data((record.jsonLine + "\n").utf8), fd: featuresFD, path: files.features)
    }

    func log(_ line: String) throws(RunError) {
        try RunDirectory.appendWhole(Data((line + "\n").utf8), fd: logFD, path: files.log)
    }

    /// Appends `data` to the file open at `fd`, or nothing: a partial write is cut back.
    static func appendWhole(_ data: Data, fd: Int32, path: String) throws(RunError) {
        let start = lseek(fd, 0, SEEK_END)
        var failure: FileFailure?
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let w = write(fd, raw.baseAddress! + done, raw.count - done)
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { failure = .posix("write", path); break }
                done += w
            }
        }
        if let failure {
            if start >= 0 { _ = ftruncate(fd, start) }
            throw RunError("cannot write \(failure.path): \(failure.problem)")
        }
    }

    /// Keeps the records at or before `step` in metrics.jsonl, histograms.jsonl and features.jsonl of the
    /// run directory at `path` (a resumed run repeats the steps after its checkpoint) and
    /// drops the later ones, and a torn or unreadable end of the file. A line it cannot read
    /// between records it keeps is kept as it is (a newer version's record, say). Each file
    /// is replaced atomically; call it before opening the directory for appending.
    static func truncateMetrics(in path: String, after step: Int) throws(RunError) {
        try truncateRecords(RunFiles(path).metrics, after: step)
        try truncateRecords(RunFiles(path).histograms, after: step)
        try truncateFeatures(in: path, after: step)
    }

    private static func truncateRecords(_ file: String, after step: Int) throws(RunError) {
        guard FileManager.default.fileExists(atPath: file) else { return }
        let data: Data
        do { data = try InputFile.read(file, limit: MetricsFile.maximumBytes) } catch { throw RunError("cannot read \(error)") }
        var kept = Data(), unread = Data(), later = false
        MetricsFile.forEachLine(data) { line in
            guard !later else { return }
            guard let r = MetricsFile.decode(line) else { unread.append(line); unread.append(0x0A); return }
            guard r.step <= step else { later = true; return }
            kept.append(unread); unread = Data()
            kept.append(line); kept.append(0x0A)
        }
        guard kept != data else { return }
        do { try AtomicFile.write(kept, to: URL(fileURLWithPath: file)) } catch {
            throw RunError("cannot rewrite \(error)")
        }
    }

    /// Keeps the feature records at or before `step` (a resume repeats the evaluations
    /// after its checkpoint); lines it cannot read are kept as they are. Replaced atomically.
    static func truncateFeatures(in path: String, after step: Int) throws(RunError) {
        let file = RunFiles(path).features
        guard FileManager.default.fileExists(atPath: file) else { return }
        let data: Data
        do { data = try InputFile.read(file, limit: MetricsFile.maximumBytes) } catch { throw RunError("cannot read \(error)") }
        var kept = Data()
        MetricsFile.forEachLine(data) { line in
            if case .success(let r) = FeatureRecord.decode(line), r.step > step { return }
            kept.append(line); kept.append(0x0A)
        }
        guard kept != data else { return }
        do { try AtomicFile.write(kept, to: URL(fileURLWithPath: file)) } catch {
            throw RunError("cannot rewrite \(error)")
        }
    }

    deinit {
        close(metricsFD)
        close(histogramsFD)
        close(logFD)
        if featuresFD >= 0 { close(featuresFD) }
    }
}
