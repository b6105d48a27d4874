import Foundation

/// Everything drawn on the dashboard draws the same way: into a grid, inside an area.
public protocol Widget {
    func render(into grid: inout Grid, area: Rect)
}

/// A frame with a title in its top border.
public struct Box: Widget {
    public var title: String
    public var glyphs: Glyphs
    public var highlight = false
    public init(title: String, glyphs: Glyphs, highlight: Bool = false) { self.title = title; self.glyphs = glyphs; self.highlight = highlight }

    public func render(into grid: inout Grid, area r: Rect) {
        guard r.width >= 2, r.height >= 2 else { return }
        let st = Style(highlight ? .cyan : nil, dim: !highlight)
        for x in (r.x + 1)..<(r.maxX - 1) {
            grid[x, r.y] = Cell(character: glyphs.horizontal, style: st)
            grid[x, r.maxY - 1] = Cell(character: glyphs.horizontal, style: st)
        }
        for y in (r.y + 1)..<(r.maxY - 1) {
            grid[r.x, y] = Cell(character: glyphs.vertical, style: st)
            grid[r.maxX - 1, y] = Cell(character: glyphs.vertical, style: st)
        }
        grid[r.x, r.y] = Cell(character: glyphs.topLeft, style: st)
        grid[r.maxX - 1, r.y] = Cell(character: glyphs.topRight, style: st)
        grid[r.x, r.maxY - 1] = Cell(character: glyphs.bottomLeft, style: st)
        grid[r.maxX - 1, r.maxY - 1] = Cell(character: glyphs.bottomRight, style: st)
        if !title.isEmpty && r.width > 4 {
            grid.put(r.x + 2, r.y, " " + title + " ", Style(bold: true), maxWidth: r.width - 4)
        }
    }

    /// Draws a box with `title` around `area`.
    static func draw(_ grid: inout Grid, _ area: Rect, title: String, glyphs: Glyphs, highlight: Bool = false) {
        Box(title: title, glyphs: glyphs, highlight: highlight).render(into: &grid, area: area)
    }
}

/// A table: a bold header row, then rows, each column fitted to its width (a negative
/// width right-aligns); rows past the area's height are not drawn.
public struct Table: Widget {
    public var columns: [(String, Int)]
    public var rows: [[String]]
    public var styles: [Style] = []
    public var glyphs: Glyphs
    public init(columns: [(String, Int)], rows: [[String]], styles: [Style] = [], glyphs: Glyphs) {
        self.columns = columns; self.rows = rows; self.styles = styles; self.glyphs = glyphs
    }

    public func render(into grid: inout Grid, area r: Rect) {
        guard r.height > 0 else { return }
        func line(_ cells: [String]) -> String {
            zip(cells, columns).map { c, col in Grid.fit(c, abs(col.1), unicode: glyphs.unicode, alignRight: col.1 < 0) }.joined(separator: " ")
        }
        grid.put(r.x, r.y, line(columns.map(\.0)), Style(bold: true), maxWidth: r.width)
        for (i, row) in rows.enumerated() where i + 1 < r.height {
            grid.put(r.x, r.y + 1 + i, line(row), i < styles.count ? styles[i] : .plain, maxWidth: r.width)
        }
    }
}

/// Splits an area into rows or columns, so panels never compute offsets by hand.
public enum Layout {
    public enum Size: Equatable, Sendable {
        /// Exactly this many cells (fewer when the area runs out).
        case fixed(Int)
        /// What the fixed sizes leave, shared equally among the `fill`s.
        case fill
    }

    public static func rows(_ area: Rect, _ sizes: [Size]) -> [Rect] {
        split(area.height, sizes).map { Rect(x: area.x, y: area.y + $0.start, width: area.width, height: $0.length) }
    }

    public static func columns(_ area: Rect, _ sizes: [Size]) -> [Rect] {
        split(area.width, sizes).map { Rect(x: area.x + $0.start, y: area.y, width: $0.length, height: area.height) }
    }

    static func split(_ total: Int, _ sizes: [Size]) -> [(start: Int, length: Int)] {
        let fixed = sizes.reduce(0) { if case .fixed(let n) = $1 { return $0 + max(n, 0) } else { return $0 } }
        let fills = sizes.filter { $0 == .fill }.count
        let spare = max(0, total - fixed)
        var out: [(Int, Int)] = [], at = 0, fillIndex = 0
        for s in sizes {
            var n: Int
            switch s {
            case .fixed(let k): n = max(k, 0)
            case .fill:
                // The first fills take the remainder's extra cells.
                n = spare / fills + (fillIndex < spare % fills ? 1 : 0)
                fillIndex += 1
            }
            n = min(n, max(0, total - at))
            out.append((at, n))
            at += n
        }
        return out
    }
}
