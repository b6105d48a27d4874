import Foundation

/// The distribution of one set of values (a layer's filter weights, or its outputs on one
/// batch): `binCount` equal bins over [minimum, maximum], the moments TensorBoard's
/// histograms carry, and the Gaussian and Laplace fits of the values themselves.
public struct Histogram: Sendable, Equatable {
    /// Bins of a histogram made from values.
    public static let binCount = 64
    /// The most bins a histogram read from a file may have.
    public static let maximumBins = 1024

    public var minimum: Double
    public var maximum: Double
    /// Values in each bin: bin i holds [minimum + i·w, minimum + (i+1)·w), the last one also
    /// the maximum (w = `binWidth`).
    public var counts: [Int]
    /// Σx and Σx² of the values.
    public var sum: Double
    public var sumOfSquares: Double
    public var fit: DistributionFit

    public init(minimum: Double, maximum: Double, counts: [Int], sum: Double, sumOfSquares: Double, fit: DistributionFit) {
        self.minimum = minimum; self.maximum = maximum; self.counts = counts; self.sum = sum; self.sumOfSquares = sumOfSquares; self.fit = fit
    }

    /// The histogram of the finite values among `values` (non-finite ones are left out); nil
    /// when there are none. All values equal: every one in the middle bin of [v − ½, v + ½].
    public init?(values: some Collection<Float>, bins: Int = Histogram.binCount) {
        precondition(bins >= 1 && bins <= Histogram.maximumBins)
        guard let fit = DistributionFit(values: values) else { return nil }
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0, squares = 0.0
        for v in values where v.isFinite {
            let d = Double(v)
            lo = min(lo, d); hi = max(hi, d); sum += d; squares += d * d
        }
        if hi == lo { lo -= 0.5; hi += 0.5 }
        var counts = [Int](repeating: 0, count: bins)
        let perUnit = Double(bins) / (hi - lo)
        for v in values where v.isFinite {
            counts[min(bins - 1, max(0, Int((Double(v) - lo) * perUnit)))] += 1
        }
        self.init(minimum: lo, maximum: hi, counts: counts, sum: sum, sumOfSquares: squares, fit: fit)
    }

    /// The number of values.
    public var count: Int { counts.reduce(0, +) }
    public var binWidth: Double { (maximum - minimum) / Double(max(counts.count, 1)) }
    /// The left edge of bin `i` (i = counts.count: the right edge of the last).
    public func edge(_ i: Int) -> Double { i == counts.count ? maximum : minimum + Double(i) * binWidth }
    /// Bin `i` as a density (its share of the values over its width), comparable with the fits.
    public func density(_ i: Int) -> Double {
        let n = count
        return n > 0 && binWidth > 0 ? Double(counts[i]) / (Double(n) * binWidth) : 0
    }
}
