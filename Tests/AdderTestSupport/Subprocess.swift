import Foundation

/// A child process for tests: spawned with posix_spawn and reaped with waitpid
/// (Foundation's Process could miss the exit of a short-lived child and wait forever),
/// standard input from /dev/null, output to files — not pipes, which a forked server
/// such as tmux's would hold open.
public struct Subprocess {
    /// Where standard output goes.
    public enum Output {
        /// A temporary file, read back by `wait`.
        case capture
        /// This path ("/dev/full", say); nothing is read back.
        case path(String)
        /// A pipe whose reading end is closed: every write gets EPIPE.
        case closedPipe
    }

    public struct Result: Sendable { public var status: Int32; public var out: String; public var err: String }

    public let pid: pid_t
    let outPath: String?, errPath: String

    /// Starts `argv` (the first element looked up in PATH when it has no "/"). Standard
    /// error goes to its own file, or with standard output when `mergeErrors`. `environment`
    /// adds variables to (or replaces them in) this process's environment for the child.
    public init(_ argv: [String], stdout: Output = .capture, mergeErrors: Bool = false, environment: [String: String] = [:]) throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("adderlab-sub-\(UUID().uuidString)").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pipeEnds: [Int32] = [-1, -1]
        switch stdout {
        case .capture:
            outPath = tmp + ".out"
            posix_spawn_file_actions_addopen(&actions, 1, outPath!, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        case .path(let p):
            outPath = nil
            posix_spawn_file_actions_addopen(&actions, 1, p, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        case .closedPipe:
            outPath = nil
            pipe(&pipeEnds)
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
            posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        }
        errPath = tmp + ".err"
        if mergeErrors { posix_spawn_file_actions_adddup2(&actions, 1, 2) } else {
            posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        // The child starts as from a shell: no signal blocked (a test runs on a thread that
        // blocks most of them, and a daemon started under it could never be stopped), and
        // every signal's action the default.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        var cenv: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for e in cenv { free(e) } }
        var pid: pid_t = 0
        let rc = argv[0].contains("/") ? posix_spawn(&pid, argv[0], &actions, &attributes, &cargs, &cenv)
                                       : posix_spawnp(&pid, argv[0], &actions, &attributes, &cargs, &cenv)
        for fd in pipeEnds where fd >= 0 { close(fd) }   // the parent keeps no end: nobody reads
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .ENOENT) }
        self.pid = pid
    }

    /// Waits for the exit; the status is the exit code, or 128 + the signal.
    public func wait() -> Result {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        func take(_ path: String?) -> String {
            guard let path else { return "" }
            defer { try? FileManager.default.removeItem(atPath: path) }
            return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        }
        return Result(status: code, out: take(outPath), err: take(errPath))
    }

    /// Runs `argv` to its end.
    public static func run(_ argv: [String], stdout: Output = .capture, mergeErrors: Bool = false, environment: [String: String] = [:]) throws -> Result {
        try Subprocess(argv, stdout: stdout, mergeErrors: mergeErrors, environment: environment).wait()
    }
}
