import AdderCore
import Foundation

/// The one-writer lock of a run directory: an advisory `flock` on `<run>/.lock`, whose
/// text names the holder ("host pid start-time"). A process that trains (or resumes) a
/// run holds it until the run ends; a second writer is refused with the holder named.
/// The kernel drops the lock when the holder dies, so a killed run never stays locked.
public final class RunLock {
    public let path: String
    private let fd: Int32

    /// Who holds a lock, as its file says.
    public struct Holder: Equatable, Sendable, CustomStringConvertible {
        public var host: String
        public var pid: Int32
        public var since: Date
        public var description: String {
            let f = ISO8601DateFormatter()
            return "pid \(pid) on \(host) since \(f.string(from: since))"
        }

        /// Parses "host pid seconds-since-1970".
        init?(_ text: String) {
            let parts = text.split(separator: " ")
            guard parts.count == 3, let pid = Int32(parts[1]), let t = Double(parts[2]), t.isFinite else { return nil }
            host = String(parts[0].prefix(255)); self.pid = pid; since = Date(timeIntervalSince1970: t)
        }
        init(host: String, pid: Int32, since: Date) { self.host = host; self.pid = pid; self.since = since }
        var text: String { "\(host) \(pid) \(since.timeIntervalSince1970)\n" }
    }

    /// Takes the lock of the run directory at `directory`, or throws naming its holder.
    public init(directory: String) throws(RunError) {
        path = RunFiles(directory).lock
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunError("cannot open the lock \(FileFailure.posix("open", path))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                throw RunLock.busy(directory, holder: RunLock.holder(of: directory))
            }
            throw RunError("cannot lock \(path): \(FileFailure.explain(code))")
        }
        self.fd = fd
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: " ", with: "_")
        let me = Holder(host: host.isEmpty ? "localhost" : host, pid: getpid(), since: Date())
        _ = ftruncate(fd, 0)
        _ = me.text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// The error for a run directory another process writes.
    public static func busy(_ directory: String, holder: Holder?) -> RunError {
        RunError("\(directory) is being written by another process\(holder.map { " (\($0))" } ?? ""); wait for it to end or stop it first")
    }

    /// Who holds the lock of `directory` now, or nil when nobody does.
    public static func holder(of directory: String) -> Holder? {
        let path = RunFiles(directory).lock
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Free when a shared lock can be taken.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return nil }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return Holder(host: "?", pid: 0, since: .distantPast) }
        return Holder(String(decoding: buffer.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            ?? Holder(host: "?", pid: 0, since: .distantPast)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
