import Foundation

/// Text builders for small in-line graphics (a sparkline, a progress bar, a heat strip):
/// they make strings that panels place in table cells, so they are not `Widget`s.
public enum Widgets {
    /// `text` in at most `width` columns, keeping its end (a path's last components):
    /// the start it loses becomes an ellipsis.
    public static func keepingEnd(_ text: String, width: Int, glyphs: Glyphs) -> String {
        guard text.count > width else { return text }
        guard width > glyphs.ellipsis.count else { return String(text.suffix(max(width, 0))) }
        return glyphs.ellipsis + String(text.suffix(width - glyphs.ellipsis.count))
    }

    /// A column of numbers in one notation: fixed, with the decimals that give the smallest
    /// value three significant digits (at most four), when every value lies in 0.01…10⁴ and
    /// fits `width`; otherwise every value as 1.23e-05.
    public static func numberColumn(_ values: [Double], width: Int) -> [String] {
        let finite = values.filter { $0.isFinite && $0 != 0 }.map(abs)
        func special(_ v: Double) -> String? { v.isFinite ? nil : (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf")) }
        if let lo = finite.min(), let hi = finite.max(), lo >= 0.01, hi < 10_000 {
            let decimals = max(0, min(4, 2 - Int(floor(log10(lo)))))
            let fixed = values.map { special($0) ?? String(format: "%.\(decimals)f", $0) }
            if fixed.allSatisfy({ $0.count <= width }) { return fixed }
        }
        if finite.isEmpty { return values.map { special($0) ?? "0" } }
        return values.map { special($0) ?? ($0 == 0 ? "0" : String(format: "%.2e", $0)) }
    }

    /// The last `width` values as block heights between their min and max.
    public static func sparkline(_ values: [Double], width: Int, glyphs: Glyphs) -> String {
        let v = Array(values.filter(\.isFinite).suffix(max(width, 0)))
        guard let lo = v.min(), let hi = v.max() else { return String(repeating: " ", count: max(width, 0)) }
        let levels = glyphs.sparkLevels
        let s = v.map { x -> Unicode.Scalar in
            // Halved so that hi − lo cannot overflow for values near ±Double.greatestFiniteMagnitude.
            let t = hi > lo ? (x / 2 - lo / 2) / (hi / 2 - lo / 2) : 0.5
            return levels[level(t, levels.count)]
        }
        return String(String.UnicodeScalarView(s)) + String(repeating: " ", count: width - v.count)
    }

    /// The index of `t` (0…1, clamped; NaN reads as 0) among `count` levels.
    static func level(_ t: Double, _ count: Int) -> Int {
        guard t.isFinite, count > 1 else { return 0 }
        return Int((min(max(t, 0), 1) * Double(count - 1)).rounded())
    }

    /// `[█████░░░░░]`-style bar for `fraction` in 0…1, `width` cells including brackets.
    public static func progressBar(_ fraction: Double, width: Int, glyphs: Glyphs) -> String {
        guard width >= 3 else { return "" }
        let inner = width - 2
        let f = min(max(fraction.isFinite ? fraction : 0, 0), 1)
        let full = Int((f * Double(inner)).rounded(.down))
        return "[" + String(repeating: Character(glyphs.progressFull), count: full)
            + String(repeating: Character(glyphs.progressEmpty), count: inner - full) + "]"
    }

    /// A layer × time heat strip: one row per layer, one column per time bucket, shade by
    /// log₁₀ of the value against the whole strip's range.
    public static func heatStrip(rows: [[Double]], width: Int, glyphs: Glyphs) -> [String] {
        let logs = rows.map { $0.map { $0 > 0 && $0.isFinite ? log10($0) : Double.nan } }
        let finite = logs.flatMap { $0 }.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        let shades = glyphs.shades
        return logs.map { row in
            guard !row.isEmpty else { return String(repeating: " ", count: width) }
            // Bucket the row into `width` columns (mean of each bucket).
            let n = min(width, row.count)
            var out: [Unicode.Scalar] = []
            for b in 0..<n {
                let a = b * row.count / n, e = max(a + 1, (b + 1) * row.count / n)
                let vals = row[a..<e].filter(\.isFinite)
                guard !vals.isEmpty else { out.append(shades[0]); continue }
                let m = vals.reduce(0, +) / Double(vals.count)
                let t = hi > lo ? (m - lo) / (hi - lo) : 0.5
                out.append(shades[1 + level(t, shades.count - 1)])
            }
            return String(String.UnicodeScalarView(out)) + String(repeating: " ", count: width - n)
        }
    }
}
