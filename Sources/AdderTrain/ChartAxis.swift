import Foundation

/// A chart's axis: its range and its ticks at round values (1, 2 or 5 × 10^k), every label
/// of one axis in one format. The SVG figures use axes widened to round ends; the
/// dashboard's charts, with a few rows to spare, keep the data's range and label the round
/// values inside it.
public struct ChartAxis: Sendable {
    public struct Tick: Sendable, Equatable {
        public var value: Double
        public var label: String
    }
    public var lo: Double, hi: Double
    public var ticks: [Tick]

    /// 1, 2 or 5 × 10^k, about span / target.
    static func niceStep(_ span: Double, target: Int) -> Double {
        let raw = span / Double(max(target, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let f = raw / magnitude
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude
    }

    /// The next round step below `step` (5 → 2 → 1 → 0.5 …).
    static func smallerStep(_ step: Double) -> Double {
        let magnitude = pow(10, floor(log10(step) + 1e-9))
        let f = (step / magnitude).rounded()
        return f >= 5 ? 2 * magnitude : f >= 2 ? magnitude : 0.5 * magnitude
    }

    /// A linear axis from a round value at or below `lo` to one at or above `hi`, ticks
    /// every 1, 2 or 5 × 10^k.
    public static func linear(_ lo: Double, _ hi: Double, target: Int) -> ChartAxis {
        var lo = lo, hi = hi
        if lo == hi { let d = lo == 0 ? 1 : abs(lo) * 0.1; lo -= d; hi += d }
        let step = niceStep(hi - lo, target: target)
        let k0 = floor(lo / step + 1e-9), k1 = ceil(hi / step - 1e-9)
        guard step.isFinite, step > 0, abs(k0) < 1e15, abs(k1) < 1e15, k1 - k0 <= 1000 else {
            return ChartAxis(lo: lo, hi: hi, ticks: [Tick(value: lo, label: String(format: "%.3g", lo)), Tick(value: hi, label: String(format: "%.3g", hi))])
        }
        let ticks = (Int(k0)...Int(k1)).map { Double($0) * step }
        return ChartAxis(lo: k0 * step, hi: k1 * step, ticks: labelled(ticks, step: step, scale: 1, suffix: "", compact: false))
    }

    /// Round values inside `lo`…`hi` (at least two when the range is not empty), about
    /// `target` of them; labels show value × `scale` with `suffix` (100 and "%" for accuracy)
    /// and, with `compact`, switch every label to a short exponent form ("2e-4", "1.5e5")
    /// when fixed notation would not fit six characters.
    public static func linear(within lo: Double, _ hi: Double, target: Int, scale: Double = 1, suffix: String = "", compact: Bool = true) -> ChartAxis {
        guard lo.isFinite, hi.isFinite, hi > lo else {
            let v = lo.isFinite ? lo : 0
            return ChartAxis(lo: v, hi: v, ticks: labelled([v], step: max(abs(v), 1), scale: scale, suffix: suffix, compact: compact))
        }
        var step = niceStep((hi - lo) * scale, target: target) / scale
        var values: [Double] = []
        for _ in 0..<4 {
            let k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9)
            guard step.isFinite, step > 0, abs(k0) < 1e15, abs(k1) < 1e15, k1 - k0 <= 1000 else { break }
            values = k1 >= k0 ? (Int(k0)...Int(k1)).map { Double($0) * step } : []
            if values.count >= 2 { break }
            step = smallerStep(step * scale) / scale
        }
        if values.count < 2 { values = [lo, hi]; step = (hi - lo) / 10 }
        return ChartAxis(lo: lo, hi: hi, ticks: labelled(values, step: step * scale, scale: scale, suffix: suffix, compact: compact))
    }

    /// Labels for `values` ticked every `step` (in label units): as many decimals as the
    /// step needs, the same for all.
    static func labelled(_ values: [Double], step: Double, scale: Double, suffix: String, compact: Bool) -> [Tick] {
        let decimals = max(0, min(12, Int(-floor(log10(step) + 1e-9))))
        let fixed = values.map { v -> String in
            let s = v * scale
            if !compact, abs(s) >= 1e7 || step < 1e-5 { return s == 0 ? "0" : String(format: "%g", s) }
            return String(format: "%.\(decimals)f", abs(s) < step * 1e-6 ? 0 : s) + suffix  // never "-0.0"
        }
        guard compact, fixed.contains(where: { $0.count > 6 }) else {
            return zip(values, fixed).map { Tick(value: $0, label: $1) }
        }
        // Too wide: a short exponent form for every label, with the digits that tell them apart.
        for digits in 0...3 {
            let labels = values.map { shortExponent($0 * scale, digits: digits) + suffix }
            if Set(labels).count == labels.count || digits == 3 { return zip(values, labels).map { Tick(value: $0, label: $1) } }
        }
        return []
    }

    /// `lo` and `hi` labelled alike, to the precision of round ticks over their span (the ends
    /// of an x axis: an epoch axis reads "0 … 3", not "1e-03 … 3").
    public static func endLabels(_ lo: Double, _ hi: Double, target: Int) -> (lo: String, hi: String) {
        guard lo.isFinite, hi.isFinite, hi > lo else { let l = labelled([lo], step: max(abs(lo), 1), scale: 1, suffix: "", compact: true); return (l[0].label, l[0].label) }
        let l = labelled([lo, hi], step: niceStep(hi - lo, target: target), scale: 1, suffix: "", compact: true)
        return (l[0].label, l[1].label)
    }

    /// "2e-4", "1.5e5", "-3e12": a mantissa with `digits` decimals and a bare exponent.
    public static func shortExponent(_ v: Double, digits: Int) -> String {
        guard v != 0, v.isFinite else { return v.isFinite ? "0" : String(v) }
        let parts = String(format: "%.\(digits)e", v).split(separator: "e")
        guard parts.count == 2, let exponent = Int(parts[1]) else { return String(format: "%g", v) }
        return parts[0] + "e" + String(exponent)
    }

    /// A logarithmic axis over whole decades: ticks at 1, 2 and 5 × 10^k over at most two
    /// decades, at each decade up to twelve, at every few decades beyond.
    public static func logarithmic(_ lo: Double, _ hi: Double) -> ChartAxis {
        let e0 = Int(max(-300, min(300, floor(log10(lo) + 1e-9))))
        var e1 = Int(max(-300, min(300, ceil(log10(hi) - 1e-9))))
        if e1 <= e0 { e1 = e0 + 1 }
        let decades = e1 - e0
        var ticks: [Tick] = []
        let every = decades <= 12 ? 1 : (decades + 7) / 8
        for e in stride(from: e0, through: e1, by: every) {
            let base = pow(10, Double(e))
            for m in decades <= 2 ? [1.0, 2, 5] : [1.0] where m == 1 || e < e1 {
                ticks.append(Tick(value: m * base, label: String(format: "%g", m * base)))
            }
        }
        return ChartAxis(lo: pow(10, Double(e0)), hi: pow(10, Double(e1)), ticks: ticks)
    }

    /// Round values (1, 2 or 5 × 10^k) inside `lo`…`hi` (both > 0) on a log scale, at most
    /// `target` of them; a range with fewer than two inside is ticked linearly.
    public static func logarithmic(within lo: Double, _ hi: Double, target: Int) -> ChartAxis {
        guard lo > 0, hi > lo, lo.isFinite, hi.isFinite else { return linear(within: lo, hi, target: target) }
        let e0 = Int(max(-300, min(300, floor(log10(lo)))))
        let e1 = Int(max(-300, min(300, ceil(log10(hi)))))
        var values: [Double] = []
        for mantissas in [[1.0], [1.0, 2, 5]] {
            values = []
            for e in e0...e1 {
                for m in mantissas {
                    let v = m * pow(10, Double(e))
                    if v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) { values.append(v) }
                }
            }
            if values.count >= 2 { break }
        }
        guard values.count >= 2 else { return linear(within: lo, hi, target: target) }
        if values.count > max(target, 2) {
            let every = (values.count + target - 1) / max(target, 1)
            values = stride(from: 0, to: values.count, by: every).map { values[$0] }
        }
        let plain = values.allSatisfy { abs($0) >= 1e-3 && abs($0) < 1e5 }
        let labels = values.map { plain ? String(format: "%g", $0) : shortExponent($0, digits: 0) }
        return ChartAxis(lo: lo, hi: hi, ticks: zip(values, labels).map { Tick(value: $0, label: $1) })
    }
}
