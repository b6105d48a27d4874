import Foundation

/// Standard output and error for the commands: written unbuffered with write(2), and a
/// failed write (a full disk, a closed pipe — SIGPIPE is ignored) is dropped, never fatal:
/// a run whose terminal went away goes on training and writing its directory.
enum Console {
    static func out(_ text: String) { write(STDOUT_FILENO, text) }
    static func err(_ text: String) { write(STDERR_FILENO, text) }

    private static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                done += n
            }
        }
    }
}
