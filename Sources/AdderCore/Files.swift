import Foundation
import Synchronization

/// A file-system operation that failed, with the path and what was wrong, in words a
/// user can act on ("is a FIFO, not a regular file", "No space left on device").
public struct FileFailure: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }

    /// The failure of a system call `call` on `path`, from `errno`.
    public static func posix(_ call: String, _ path: String, errno code: Int32 = errno) -> FileFailure {
        FileFailure(path: path, problem: "\(call): " + FileFailure.explain(code))
    }

    /// `strerror`, with the cases a user meets most often said plainly.
    public static func explain(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file or directory"
        case ELOOP: return "a symbolic link loop (too many levels of symbolic links)"
        case EACCES, EPERM: return "permission denied"
        case ENOTDIR: return "a component of the path is not a directory"
        case ENOSPC: return "no space left on device"
        case EFBIG: return "file too large (the file-size limit was reached)"
        case EDQUOT: return "disk quota exceeded"
        default: return String(cString: strerror(code))
        }
    }
}

/// Reading files that come from outside. Every reader of a run directory, an experiment,
/// a checkpoint or a dataset goes through here, so each gets the same checks: the path
/// names a regular file (not a directory, FIFO, device or socket, which could block or
/// never end), and the file is no larger than the caller's limit, checked before
/// anything is allocated.
public enum InputFile {
    /// The whole regular file at `path`, refusing files over `limit` bytes.
    public static func read(_ path: String, limit: Int) throws(FileFailure) -> Data {
        try read(path, from: 0, limit: limit)
    }

    /// The bytes of the regular file at `path` from `offset` to its end, refusing more
    /// than `limit` of them; with `atMost`, the first `atMost` of them instead.
    /// With `followingLinks` false, a symbolic link at `path` is refused (ELOOP) instead of followed.
    public static func read(_ path: String, from offset: Int, limit: Int = .max, atMost: Int? = nil,
                            followingLinks: Bool = true) throws(FileFailure) -> Data {
        let fd = try open(path, followingLinks: followingLinks)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .posix("stat", path) }
        let size = Int(st.st_size)
        guard offset >= 0, offset <= size else {
            throw FileFailure(path: path, problem: "is \(size) bytes, shorter than the \(offset) already read (was it replaced?)")
        }
        guard atMost != nil || size - offset <= limit else {
            throw FileFailure(path: path, problem: "is \(byteCount(size - offset)), more than the limit of \(byteCount(limit))")
        }
        var data = Data(count: min(size - offset, max(atMost ?? .max, 0)))
        var done = 0
        let ok = data.withUnsafeMutableBytes { raw -> Bool in
            while done < raw.count {
                let n = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 { if errno == EINTR { continue }; return false }
                if n == 0 { break }  // shrank while we read: keep what is there
                done += n
            }
            return true
        }
        guard ok else { throw .posix("read", path) }
        if done < data.count { data.removeSubrange(done...) }
        return data
    }

    /// True when something is at `path`, even a symbolic link that leads nowhere or loops
    /// (so that reading it reports the real problem instead of "not found").
    public static func entryExists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The size in bytes of the regular file at `path`.
    public static func size(_ path: String, followingLinks: Bool = true) throws(FileFailure) -> Int {
        let fd = try open(path, followingLinks: followingLinks)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .posix("stat", path) }
        return Int(st.st_size)
    }

    /// Opens a regular file for reading without blocking on a FIFO.
    private static func open(_ path: String, followingLinks: Bool) throws(FileFailure) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (followingLinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            let code = errno
            throw FileFailure(path: path, problem: FileFailure.explain(code))
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else { let f = FileFailure.posix("stat", path); close(fd); throw f }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(fd)
            let what: String
            switch type {
            case S_IFDIR: what = "is a directory"
            case S_IFIFO: what = "is a FIFO (named pipe)"
            case S_IFCHR: what = "is a character device"
            case S_IFBLK: what = "is a block device"
            case S_IFSOCK: what = "is a socket"
            default: what = "is not a file"
            }
            throw FileFailure(path: path, problem: what + ", expected a regular file")
        }
        // Reads block normally from here on.
        _ = fcntl(fd, F_SETFL, O_RDONLY)
        return fd
    }

    /// "512 bytes", "3.0 MiB".
    public static func byteCount(_ n: Int) -> String {
        n < 1 << 20 ? "\(n) bytes" : String(format: "%.1f MiB", Double(n) / Double(1 << 20))
    }
}

/// Crash-safe file replacement: write a temporary file beside the target, fsync it,
/// rename it over the target, fsync the directory. A reader sees the old file or the
/// new one, never a torn one, even after `kill -9`; on a full disk the old file stays.
public enum AtomicFile {
    /// Temporary files being written now, so that a forced exit can remove them.
    private static let inProgress = Mutex<Set<String>>([])

    /// The temporary name used for `target`: hidden, with this process's id.
    public static func temporaryPath(for target: URL) -> String {
        target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).tmp-\(getpid())").path
    }

    public static func write(_ data: Data, to url: URL) throws(FileFailure) {
        let tmp = temporaryPath(for: url)
        inProgress.withLock { _ = $0.insert(tmp) }
        defer { inProgress.withLock { _ = $0.remove(tmp) } }
        unlink(tmp)   // a file (or planted link) of that name is replaced, never written through
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .posix("open", tmp) }
        var failure: FileFailure?
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let w = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { failure = .posix("write", tmp); break }
                done += w
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = .posix("fsync", tmp) }
        close(fd)
        if let failure { unlink(tmp); throw failure }
        guard rename(tmp, url.path) == 0 else { let f = FileFailure.posix("rename", url.path); unlink(tmp); throw f }
        let dfd = open(url.deletingLastPathComponent().path, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Removes the temporary files of writes still in progress: for an exit that cannot
    /// wait for them (a second Ctrl-C).
    public static func abandonWritesInProgress() {
        for path in inProgress.withLock({ $0 }) { unlink(path) }
    }

    /// Removes temporary files left in `directory` by a process that was killed mid-write
    /// (`.NAME.tmp-PID` whose PID is not running); returns their names.
    @discardableResult
    public static func removeStaleTemporaryFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            guard let r = name.range(of: ".tmp-", options: .backwards), let pid = Int32(name[r.upperBound...]) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                if unlink(directory + "/" + name) == 0 { removed.append(name) }
            }
        }
        return removed
    }
}
