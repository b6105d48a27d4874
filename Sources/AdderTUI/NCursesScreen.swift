import CNCurses
import Foundation
import Synchronization

/// The only code that touches ncurses: it sets the terminal up, copies grids to the
/// screen, reads keys with a timeout, and puts the terminal back on every way out
/// (normal exit, q, Ctrl-C, SIGTERM, SIGHUP and crashes).
public final class NCursesScreen {
    public let unicode: Bool
    public let color: Bool
    /// True when the terminal has 256 colours (and pairs for them).
    public let color256: Bool
    private static let active = Atomic<Bool>(false)
    private let timeoutMilliseconds: Int32

    /// Starts curses mode. `timeoutMilliseconds` bounds how long `readKey` waits.
    public init(timeoutMilliseconds: Int32 = 100) {
        self.timeoutMilliseconds = timeoutMilliseconds
        setlocale(LC_ALL, "")
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        unicode = codeset.uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
        // Resizes come as SIGWINCH: a parent may have left it blocked or ignored (a process
        // spawned from a dispatch thread inherits that thread's mask), and then the screen
        // would never follow the terminal's size. ncurses installs its handler over SIG_DFL.
        var winch = sigset_t()
        sigemptyset(&winch)
        sigaddset(&winch, SIGWINCH)
        pthread_sigmask(SIG_UNBLOCK, &winch, nil)
        signal(SIGWINCH, SIG_DFL)
        adder_set_escdelay(25)
        initscr()
        cbreak()
        noecho()
        nonl()
        adder_keypad_on()
        curs_set(0)
        timeout(timeoutMilliseconds)
        let noColor = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        if has_colors() && !noColor {
            start_color()
            use_default_colors()
            // Pair n + 1 draws colour n on the default background.
            let colors = Int(adder_colors()), pairs = Int(adder_color_pairs())
            color256 = colors >= 256 && pairs >= 257
            for c in 0..<(color256 ? 256 : 8) { init_pair(Int16(c + 1), Int16(c), -1) }
            color = true
        } else {
            color = false
            color256 = false
        }
        NCursesScreen.active.store(true, ordering: .sequentiallyConsistent)
        NCursesScreen.installCrashHandlers()
    }

    /// Ends curses mode (idempotent).
    public func close() { NCursesScreen.restore() }

    static func restore() {
        if active.exchange(false, ordering: .sequentiallyConsistent) {
            curs_set(1)
            endwin()
        }
    }

    public var size: (width: Int, height: Int) { (Int(adder_columns()), Int(adder_lines())) }

    /// Copies `grid` to the screen; ncurses sends only what changed.
    public func draw(_ grid: Grid) {
        for y in 0..<grid.height {
            var x = 0
            while x < grid.width {
                let style = grid[x, y].style
                var run = ""
                let start = x
                while x < grid.width && grid[x, y].style == style {
                    run.unicodeScalars.append(grid[x, y].character)
                    x += 1
                }
                attrset(attributes(style))
                // The bottom-right cell too (it kept a stale character after a resize): with
                // scrolling off, ncurses writes it without scrolling and returns ERR for the
                // cursor that cannot move past it.
                _ = mvaddstr(Int32(y), Int32(start), run)
            }
        }
        attrset(0)
        refresh()
    }

    func attributes(_ s: Style) -> Int32 {
        var a: Int32 = 0
        if color, let fg = s.foreground, color256 || fg.index < 8 { a |= adder_color_pair(Int32(fg.index) + 1) }
        if s.bold { a |= adder_a_bold() }
        if s.reverse { a |= adder_a_reverse() }
        if s.dim { a |= adder_a_dim() }
        return a
    }

    /// The next key, or nil when the timeout passes first (at once with `timeoutZero`).
    public func readKey(timeoutZero: Bool = false) -> Key? {
        if timeoutZero { timeout(0) }
        defer { if timeoutZero { timeout(timeoutMilliseconds) } }
        let c = getch()
        switch c {
        case ERR: return nil
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_BTAB: return .backTab
        case KEY_RESIZE: return .resize
        case KEY_ENTER, 10, 13: return .enter
        case KEY_BACKSPACE, 127, 8: return .backspace
        case 9: return .tab
        case 27: return .escape
        default:
            guard c >= 32, c < 127, let u = Unicode.Scalar(UInt32(c)) else { return nil }
            return .char(Character(u))
        }
    }

    /// Restores the terminal before a crash signal takes the process down.
    static func installCrashHandlers() {
        for sig in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] {
            signal(sig) { s in
                NCursesScreen.restore()
                signal(s, SIG_DFL)
                raise(s)
            }
        }
    }
}
