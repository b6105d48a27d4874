import Foundation

/// Standard output and error for the commands: written unbuffered with write(2), and a
/// failed write (a full disk, a closed pipe — SIGPIPE is ignored) is dropped, never fatal:
/// a run whose terminal went away goes on training and writing its directory.
///
/// Text from files (names, descriptions, paths, messages) can hold terminal escapes:
/// `out` and `err` show every control character but newline and tab, and the bidi
/// overrides, as `\u{…}` so that nothing printed can drive the terminal.
enum Console {
    static func out(_ text: String) { write(STDOUT_FILENO, visible(text)) }
    static func err(_ text: String) { write(STDERR_FILENO, visible(text)) }
    /// `text` and a newline on standard output.
    static func line(_ text: String = "") { out(text + "\n") }

    /// Terminal control sequences of our own (the live progress lines), as they are.
    static func control(_ text: String) { write(STDOUT_FILENO, text) }

    static func visible(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            let v = u.value
            let hidden = (v < 0x20 && u != "\n" && u != "\t") || (0x7F...0x9F).contains(v) || (0x200E...0x200F).contains(v)
                || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
            if hidden { out.append(contentsOf: "\\u{\(String(v, radix: 16, uppercase: true))}".unicodeScalars) } else { out.append(u) }
        }
        return String(out)
    }

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
