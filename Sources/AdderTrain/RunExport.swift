import AdderNN
import Foundation

/// Copies a run's config.yaml and metrics.jsonl (not its checkpoints or TensorBoard
/// files) into another directory, optionally keeping only every n-th per-step record so
/// that results stay small enough to commit. Evaluation, layer and event records, and
/// the last step record, are always kept; the copy opens in the dashboard and in
/// `adderlab compare` like the original.
public enum RunExport {
    public static func export(_ runDirectory: String, into destination: String, stepEvery n: Int) throws(RunError) -> String {
        guard n >= 1 else { throw RunError("--step-every must be at least 1, got \(n)") }
        _ = try RunDirectory.readConfig(runDirectory)
        let name = (runDirectory as NSString).lastPathComponent
        let target = (destination as NSString).appendingPathComponent(name)
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
            let config = try Data(contentsOf: URL(fileURLWithPath: runDirectory + "/config.yaml"))
            try AtomicFile.write(config, to: URL(fileURLWithPath: target + "/config.yaml"))
        } catch {
            throw RunError("cannot export \(runDirectory) to \(target): \(error.localizedDescription)")
        }
        let text = (try? String(contentsOfFile: runDirectory + "/metrics.jsonl", encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let lastStep = lines.lastIndex { $0.hasPrefix("{\"kind\":\"step\"") }
        var kept: [Substring] = []
        for (i, line) in lines.enumerated() {
            if line.hasPrefix("{\"kind\":\"step\""), i != lastStep,
               let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
               let step = o["step"] as? Int, step % n != 0 {
                continue
            }
            kept.append(line)
        }
        do {
            try AtomicFile.write(Data((kept.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: target + "/metrics.jsonl"))
        } catch {
            throw RunError("cannot write \(target)/metrics.jsonl: \(error)")
        }
        return target
    }
}
