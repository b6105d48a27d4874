import AdderCore
import AdderNN
import Foundation

/// Copies a run's config.yaml and metrics.jsonl (not its checkpoints or TensorBoard
/// files) into another directory, optionally keeping only every n-th per-step record so
/// that results stay small enough to commit. Evaluation, layer and event records, the
/// last step record, and lines that are not readable records (copied unchanged) are
/// always kept; the copy opens in the dashboard and in `adderlab compare` like the
/// original. The source is never written: a destination that is the source or lies
/// inside it is refused, and both files are replaced atomically.
public enum RunExport {
    public static func export(_ runDirectory: String, into destination: String, stepEvery n: Int) throws(RunError) -> String {
        guard n >= 1, n <= 1_000_000_000 else { throw RunError("--step-every must be between 1 and 1000000000, got \(n)") }
        guard !destination.isEmpty else { throw RunError("the destination is empty; name a directory to export into") }
        // The copy is named after the run directory itself ("runs/X/checkpoints/.." is X).
        let source = RunFiles(canonical(runDirectory))
        _ = try RunDirectory.readConfig(source.path)
        let name = (source.path as NSString).lastPathComponent
        guard !name.isEmpty, name != ".", name != "..", name != "/" else {
            throw RunError("cannot export \(runDirectory): its name '\(name)' cannot name a directory in \(destination)")
        }
        let target = RunFiles((destination as NSString).appendingPathComponent(name))
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: destination, withIntermediateDirectories: true) } catch {
            throw RunError("cannot create \(destination): \(error.localizedDescription)")
        }
        let src = canonical(source.path), dst = canonical(target.path)
        guard dst != src, !dst.hasPrefix(src + "/") else {
            throw RunError("cannot export \(runDirectory) into \(destination): the copy would be \(target.path), which is the run itself or inside it; choose another destination")
        }
        let config: Data, metrics: Data
        // Only an earlier export (config.yaml and metrics.jsonl, nothing else) is replaced:
        // never a run directory, a run being written, or anything reached through a link.
        var st = stat()
        if lstat(target.path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else {
                throw RunError("cannot export \(runDirectory) to \(target.path): it is \(st.st_mode & S_IFMT == S_IFLNK ? "a symbolic link" : "not a directory")")
            }
            let inside = ((try? FileManager.default.contentsOfDirectory(atPath: target.path)) ?? []).filter { !$0.hasPrefix(".") || $0 == ".lock" }
                .sorted { a, b in a.hasPrefix(".") == b.hasPrefix(".") ? a < b : !a.hasPrefix(".") }
            if let other = inside.first(where: { $0 != RunFiles.configName && $0 != RunFiles.metricsName }) {
                throw RunError("cannot export \(runDirectory) to \(target.path): it is a run directory (it holds \(other)), not an earlier export; choose another destination")
            }
            for f in [target.config, target.metrics] where lstat(f, &st) == 0 && st.st_mode & S_IFMT != S_IFREG {
                throw RunError("cannot export \(runDirectory) to \(target.path): \(f) is not a regular file")
            }
        }
        // Another run already there (not an earlier copy of this one) is never replaced.
        if let existing = try? InputFile.read(target.config, limit: YAMLEvents.maximumBytes),
           let mine = try? InputFile.read(source.config, limit: YAMLEvents.maximumBytes), existing != mine {
            throw RunError("cannot export \(runDirectory) to \(target.path): a different run is there already; choose another destination")
        }
        do {
            config = try InputFile.read(source.config, limit: YAMLEvents.maximumBytes)
            metrics = InputFile.entryExists(source.metrics) ? try InputFile.read(source.metrics, limit: MetricsFile.maximumBytes) : Data()
        } catch {
            throw RunError("cannot read \(error)")
        }
        // Two passes over the lines (never all of them in memory at once): find the last
        // step record, then copy.
        var index = 0, lastStep = -1
        MetricsFile.forEachLine(metrics) { line in
            if case .step = MetricsFile.decode(line) { lastStep = index }
            index += 1
        }
        var kept = Data()
        index = 0
        let consumed = MetricsFile.forEachLine(metrics) { line in
            defer { index += 1 }
            if index != lastStep, case .step(let r) = MetricsFile.decode(line), r.step % n != 0 { return }
            kept.append(line); kept.append(0x0A)
        }
        // A torn last line (a run killed mid-write) is copied as it is, too.
        if consumed < metrics.count { kept.append(metrics[(metrics.startIndex + consumed)...]) }
        do {
            if mkdir(target.path, 0o755) != 0 && errno != EEXIST { throw FileFailure.posix("mkdir", target.path) }
            try AtomicFile.write(config, to: URL(fileURLWithPath: target.config))
            try AtomicFile.write(kept, to: URL(fileURLWithPath: target.metrics))
        } catch {
            throw RunError("cannot export \(runDirectory) to \(target.path): \(error)")
        }
        return target.path
    }

    /// The absolute path with symbolic links resolved (as far as the path exists).
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
