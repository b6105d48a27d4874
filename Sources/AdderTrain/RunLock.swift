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
            if self == .unknown { return "its lock file does not say which" }
            return "pid \(pid) on \(host) since \(ISO8601DateFormatter().string(from: since))"
        }

        /// Parses "host pid seconds-since-1970"; nil unless the host is a plain host name
        /// (it is shown to users), the pid positive and the time between 2000 and 2200.
        init?(_ text: String) {
            let parts = text.split(separator: " ")
            guard parts.count == 3, let pid = Int32(parts[1]), pid > 0, let t = Double(parts[2]),
                  t >= 946_684_800, t <= 7_258_118_400, parts[0].count <= 255,
                  parts[0].unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "-._".unicodeScalars.contains($0)) })
            else { return nil }
            host = String(parts[0]); self.pid = pid; since = Date(timeIntervalSince1970: t)
        }
        init(host: String, pid: Int32, since: Date) { self.host = host; self.pid = pid; self.since = since }

        /// A holder whose lock file does not say who it is.
        public static let unknown = Holder(host: "", pid: 0, since: .distantPast)
        var text: String { "\(host) \(pid) \(since.timeIntervalSince1970)\n" }
    }

    /// Takes the lock of the run directory at `directory`, or throws naming its holder.
    public init(directory: String) throws(RunError) {
        path = RunFiles(directory).lock
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP { throw RunError("\(path) is a symbolic link; a run writes only files inside its directory") }
            throw RunError("cannot open the lock \(FileFailure(path: path, problem: FileFailure.explain(code)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw RunError("\(path) is not a regular file; remove it (a run directory's lock is a small text file)")
        }
        // A reader testing the lock (`holder(of:)`) holds it shared for an instant: retry briefly.
        var tries = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK && RunLock.holder(of: directory) == nil && tries < 10 {
            tries += 1
            usleep(5_000)
        }
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
        // Non-blocking, regular files only: a FIFO planted as the lock must not hang us.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        // Free when a shared lock can be taken.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return nil }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = read(fd, &buffer, buffer.count)
        let text = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        return Holder(text) ?? .unknown
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
