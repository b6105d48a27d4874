/// A canvas of braille dots: each cell holds 2×4 dots, drawn as U+2800 plus the dot
/// bits (DESIGN.md §3): (row, column) (0,0)=0x01 (1,0)=0x02 (2,0)=0x04 (3,0)=0x40
/// (0,1)=0x08 (1,1)=0x10 (2,1)=0x20 (3,1)=0x80. In ASCII mode a cell with any dot is
/// drawn as '*' (upper half) or '.' (lower half).
public struct BrailleCanvas {
    public let columns: Int, rows: Int
    private(set) var bits: [UInt8]
    private(set) var colors: [TermColor?]

    public init(columns: Int, rows: Int) {
        self.columns = max(columns, 0); self.rows = max(rows, 0)
        bits = Array(repeating: 0, count: self.columns * self.rows)
        colors = Array(repeating: nil, count: self.columns * self.rows)
    }

    /// Dots across and down.
    public var dotWidth: Int { columns * 2 }
    public var dotHeight: Int { rows * 4 }

    static let bit: [[UInt8]] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]]

    /// Sets the dot at (x, y), origin top-left, in dot coordinates.
    public mutating func set(_ x: Int, _ y: Int, _ color: TermColor? = nil) {
        guard x >= 0, y >= 0, x < dotWidth, y < dotHeight else { return }
        let i = (y / 4) * columns + x / 2
        bits[i] |= BrailleCanvas.bit[y % 4][x % 2]
        if color != nil { colors[i] = color }
    }

    /// A straight line of dots (Bresenham).
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: TermColor? = nil) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        var guardSteps = 0
        while guardSteps < 100_000 {
            set(x, y, color)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
            guardSteps += 1
        }
    }

    public func character(column: Int, row: Int, unicode: Bool) -> Unicode.Scalar? {
        let b = bits[row * columns + column]
        guard b != 0 else { return nil }
        if unicode { return Unicode.Scalar(0x2800 + UInt32(b))! }
        return (b & 0x1B) != 0 ? "*" : "."
    }

    /// Copies the dots into `grid` at (x, y); empty cells are left as they are.
    public func draw(into grid: inout Grid, x: Int, y: Int, unicode: Bool) {
        for r in 0..<rows {
            for c in 0..<columns {
                if let ch = character(column: c, row: r, unicode: unicode) {
                    grid[x + c, y + r] = Cell(character: ch, style: Style(colors[r * columns + c]))
                }
            }
        }
    }
}
