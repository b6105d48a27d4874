import AdderCore
import Foundation

/// A control sent to a run that another process trains (a CLI run, a Slurm task, rank 0 of
/// an MPI job): one line of `<run>/controls`. The process writing the run reads the lines
/// added since it started, between steps, and applies them as the dashboard's own controls.
public enum RemoteCommand: Sendable, Equatable {
    case pause, resume, stop, toggleGradient
    /// η × factor, the factor within `etaFactors`.
    case scaleEta(Double)

    /// The factors `scaleEta` accepts.
    public static let etaFactors = 0.01...100.0
    /// What a line may say, for messages about one that says something else.
    public static let expected = "pause, resume, stop, gradient toggle or eta × F (F from 0.01 to 100)"
    /// Longer lines are not commands.
    static let maximumLine = 100

    /// The line that says it (without the newline).
    public var line: String {
        switch self {
        case .pause: "pause"
        case .resume: "resume"
        case .stop: "stop"
        case .toggleGradient: "gradient toggle"
        case .scaleEta(let f): "eta × \(f)"
        }
    }

    public init?(line: Substring) {
        switch line {
        case "pause": self = .pause
        case "resume": self = .resume
        case "stop": self = .stop
        case "gradient toggle": self = .toggleGradient
        default:
            guard line.hasPrefix("eta × "), let f = Double(line.dropFirst("eta × ".count)), f.isFinite,
                  RemoteCommand.etaFactors.contains(f) else { return nil }
            self = .scaleEta(f)
        }
    }
}

public enum RunControl {
    /// Appends `command` to the run's controls, creating the file if need be: only a
    /// regular file inside the run directory, never through a symbolic link.
    public static func send(_ command: RemoteCommand, to run: String) throws(FileFailure) {
        let path = RunFiles(run).controls
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .posix("open", path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .posix("stat", path) }
        guard st.st_mode & S_IFMT == S_IFREG else { throw FileFailure(path: path, problem: "is not a regular file") }
        // One write of a short line with O_APPEND: lines from several senders never interleave.
        let bytes = Array((command.line + "\n").utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw n < 0 ? .posix("write", path) : FileFailure(path: path, problem: "was written in part (\(n) of \(bytes.count) bytes)") }
    }
}

/// The controls file of a run as its writer follows it: from its size when the run started
/// (controls sent to an earlier process are not replayed), whole lines only.
final class ControlFollower {
    let path: String
    private var offset: Int
    /// Bytes read at most per poll; a longer line than this is skipped.
    static let chunk = 4096

    init(run: String) {
        path = RunFiles(run).controls
        offset = (try? InputFile.size(path, followingLinks: false)) ?? 0
    }

    /// The commands of the lines added since the last poll, and a note for each line that
    /// is not one (by its first characters).
    func poll() -> (commands: [RemoteCommand], ignored: [String]) {
        // Never through a symbolic link: its target's lines would end up in run.log.
        guard let size = try? InputFile.size(path, followingLinks: false) else { return ([], []) }
        guard size > offset else {
            offset = size   // unchanged, or cut back or replaced: go on from its end
            return ([], [])
        }
        guard let data = try? InputFile.read(path, from: offset, atMost: ControlFollower.chunk, followingLinks: false) else { return ([], []) }
        guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else {
            // No whole line yet; a chunk without one is not a control line: skip it.
            if data.count == ControlFollower.chunk {
                offset += data.count
                return ([], ["\(ControlFollower.chunk) bytes without a line end"])
            }
            return ([], [])
        }
        offset += end - data.startIndex + 1
        var commands: [RemoteCommand] = [], ignored: [String] = []
        for raw in data[data.startIndex..<end].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let text = String(decoding: raw, as: UTF8.self)
            if raw.count <= RemoteCommand.maximumLine, let c = RemoteCommand(line: Substring(text)) {
                commands.append(c)
            } else {
                let shown = text.unicodeScalars.prefix(40).map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
                ignored.append("'\(shown)\(text.unicodeScalars.count > 40 ? "…" : "")'")
            }
        }
        return (commands, ignored)
    }
}
