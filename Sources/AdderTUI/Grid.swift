/// The eight terminal colours, by their ncurses numbers.
/// A terminal colour: one of the 8 basic ones, or an index of the 256-colour palette.
public struct TermColor: Hashable, Sendable {
    /// 0–7: black, red, green, yellow, blue, magenta, cyan, white; 8–255: xterm's palette.
    public let index: UInt8
    public init(index: UInt8) { self.index = index }

    public static let black = TermColor(index: 0), red = TermColor(index: 1), green = TermColor(index: 2)
    public static let yellow = TermColor(index: 3), blue = TermColor(index: 4), magenta = TermColor(index: 5)
    public static let cyan = TermColor(index: 6), white = TermColor(index: 7)

    /// Colours for series (runs and groups): 12 told apart on a 256-colour terminal (blue,
    /// orange, red, teal, green, yellow, purple, pink, brown, grey, olive, sky), 6 on 8.
    public static let series256: [TermColor] = [33, 208, 196, 37, 40, 220, 135, 211, 130, 248, 142, 81].map { TermColor(index: $0) }
    public static let series8: [TermColor] = [.cyan, .magenta, .yellow, .green, .blue, .red]

    /// "#rrggbb" as xterm draws the index (for SVG export).
    public var hex: String {
        let i = Int(index)
        let rgb: (Int, Int, Int)
        switch i {
        case 0..<16:
            let basic = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
                         (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255)]
            rgb = basic[i]
        case 16..<232:
            let levels = [0, 95, 135, 175, 215, 255], c = i - 16
            rgb = (levels[c / 36], levels[(c / 6) % 6], levels[c % 6])
        default:
            let v = 8 + (i - 232) * 10
            rgb = (v, v, v)
        }
        return String(format: "#%02x%02x%02x", rgb.0, rgb.1, rgb.2)
    }
}

/// How a cell is drawn.
public struct Style: Equatable, Sendable {
    public var foreground: TermColor?
    public var bold = false
    public var reverse = false
    public var dim = false

    public init(_ foreground: TermColor? = nil, bold: Bool = false, reverse: Bool = false, dim: Bool = false) {
        self.foreground = foreground; self.bold = bold; self.reverse = reverse; self.dim = dim
    }

    public static let plain = Style()
}

/// One character cell.
public struct Cell: Equatable, Sendable {
    public var character: Unicode.Scalar
    public var style: Style
    public static let blank = Cell(character: " ", style: .plain)
}

/// A rectangle of cells, in columns and rows.
public struct Rect: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = max(0, width); self.height = max(0, height)
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    /// The rectangle shrunk by `n` cells on every side.
    public func inset(_ n: Int) -> Rect { Rect(x: x + n, y: y + n, width: width - 2 * n, height: height - 2 * n) }
}

/// The screen as data: rendering writes cells here, and the terminal backend only
/// copies it out, so every view can be tested without a terminal.
public struct Grid: Equatable, Sendable {
    public let width: Int, height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width); self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { if x >= 0, y >= 0, x < width, y < height { cells[y * width + x] = newValue } }
    }

    /// Writes `text` from (x, y), clipped to `maxWidth` and the grid; returns columns written.
    @discardableResult
    public mutating func put(_ x: Int, _ y: Int, _ text: String, _ style: Style = .plain, maxWidth: Int = .max) -> Int {
        guard y >= 0, y < height else { return 0 }
        var col = x, n = 0
        for s in text.unicodeScalars {
            if n >= maxWidth || col >= width { break }
            if col >= 0 { cells[y * width + col] = Cell(character: Grid.drawable(s), style: style) }
            col += 1; n += 1
        }
        return n
    }

    /// A character the terminal shows as one cell: control characters and bidi overrides
    /// (which could come from a run's name or an experiment's description and would drive
    /// the terminal) become "?".
    static func drawable(_ s: Unicode.Scalar) -> Unicode.Scalar {
        let v = s.value
        let control = v < 0x20 || (0x7F...0x9F).contains(v) || (0x200E...0x200F).contains(v) || (0x202A...0x202E).contains(v)
            || (0x2066...0x2069).contains(v)
        return control ? "?" : s
    }

    /// `text` truncated to `width` columns with an ellipsis, or padded with spaces.
    public static func fit(_ text: String, _ width: Int, unicode: Bool = true, alignRight: Bool = false) -> String {
        let scalars = Array(text.unicodeScalars)
        if scalars.count > width {
            guard width > 0 else { return "" }
            var s = String(String.UnicodeScalarView(scalars.prefix(width - 1)))
            s += unicode ? "…" : (width > 1 ? "~" : "")
            return s
        }
        let pad = String(repeating: " ", count: width - scalars.count)
        return alignRight ? pad + text : text + pad
    }

    public mutating func fill(_ rect: Rect, _ cell: Cell = .blank) {
        for y in max(rect.y, 0)..<min(rect.maxY, height) {
            for x in max(rect.x, 0)..<min(rect.maxX, width) { cells[y * width + x] = cell }
        }
    }

    /// The characters of row `y` (for tests).
    public func row(_ y: Int) -> String {
        String(String.UnicodeScalarView(cells[(y * width)..<((y + 1) * width)].map(\.character)))
    }

    /// Every row joined by newlines (for tests and debugging).
    public var text: String { (0..<height).map(row).joined(separator: "\n") }
}
