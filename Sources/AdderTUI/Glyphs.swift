/// The characters widgets draw with: Unicode box drawing, blocks and braille, or an
/// ASCII fallback when the locale is not UTF-8.
public struct Glyphs: Sendable {
    public let unicode: Bool
    public init(unicode: Bool) { self.unicode = unicode }

    public var horizontal: Unicode.Scalar { unicode ? "─" : "-" }
    public var vertical: Unicode.Scalar { unicode ? "│" : "|" }
    public var topLeft: Unicode.Scalar { unicode ? "┌" : "+" }
    public var topRight: Unicode.Scalar { unicode ? "┐" : "+" }
    public var bottomLeft: Unicode.Scalar { unicode ? "└" : "+" }
    public var bottomRight: Unicode.Scalar { unicode ? "┘" : "+" }
    public var axisCorner: Unicode.Scalar { unicode ? "└" : "+" }
    public var tick: Unicode.Scalar { unicode ? "┤" : "+" }
    public var marker: Unicode.Scalar { unicode ? "┊" : ":" }
    public var ellipsis: String { unicode ? "…" : "~" }
    public var micro: String { unicode ? "µ" : "u" }
    public var focus: String { unicode ? "▶" : ">" }
    public var bullet: String { unicode ? "●" : "*" }
    /// A value that does not apply (α of a layer the adaptive rate does not touch).
    public var dash: String { unicode ? "–" : "-" }
    public var progressFull: Unicode.Scalar { unicode ? "█" : "#" }
    public var progressEmpty: Unicode.Scalar { unicode ? "░" : "." }
    /// Eight levels, lowest first.
    public var sparkLevels: [Unicode.Scalar] { unicode ? ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"] : [".", ".", "-", "-", "=", "=", "#", "#"] }
    /// Five shades, empty first.
    public var shades: [Unicode.Scalar] { unicode ? [" ", "░", "▒", "▓", "█"] : [" ", ".", ":", "*", "#"] }
    public var eta: String { unicode ? "η" : "eta" }
    public var alpha: String { unicode ? "α" : "a" }

    /// Text as this terminal can show it: unchanged with Unicode; otherwise the symbols the
    /// dashboard and experiment files use spelled in ASCII, and anything else as "?".
    public func text(_ s: String) -> String {
        guard !unicode else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if u.isASCII { out.unicodeScalars.append(u); continue }
            out += Glyphs.ascii[u] ?? "?"
        }
        return out
    }

    static let ascii: [Unicode.Scalar: String] = [
        "η": "eta", "α": "a", "σ": "sd", "·": "|", "—": "-", "–": "-", "‐": "-", "←": "<-", "→": "->", "↑": "Up", "↓": "Down",
        "◀": "<", "▶": ">", "±": "+/-", "‖": "|", "×": "x", "…": "...", "⇄": "<->", "’": "'", "‘": "'", "“": "\"", "”": "\"",
        "●": "*", "≤": "<=", "≥": ">=", "²": "^2", "√": "sqrt", "∂": "d",
    ]
}
