import Foundation

/// Maximum-likelihood fits of a Gaussian and a Laplace density to a set of values (the
/// paper's Fig. 3: AdderNet filters follow a Laplace, a CNN's a Gaussian), and which fits
/// better by the average log-likelihood per value, in nats, computed on the values
/// themselves (not on a histogram's bins).
///
///     Gaussian: μ = mean, σ² = mean (x − μ)²     log p(x) = −½ log(2πσ²) − (x − μ)²/(2σ²)
///     Laplace:  m = median, b = mean |x − m|      log p(x) = −log(2b) − |x − m|/b
public struct DistributionFit: Sendable, Equatable {
    public enum Family: String, Sendable, CaseIterable {
        case gaussian = "Gaussian", laplace = "Laplace"
    }

    public var mean: Double
    /// σ, the maximum-likelihood (population) standard deviation.
    public var standardDeviation: Double
    public var median: Double
    /// b, the mean absolute deviation from the median.
    public var scale: Double
    /// Average log-likelihood per value under each fit, in nats (NaN when a fit is degenerate:
    /// σ or b is 0).
    public var gaussianLogLikelihood: Double
    public var laplaceLogLikelihood: Double

    public init(mean: Double, standardDeviation: Double, median: Double, scale: Double, gaussianLogLikelihood: Double, laplaceLogLikelihood: Double) {
        self.mean = mean; self.standardDeviation = standardDeviation; self.median = median; self.scale = scale
        self.gaussianLogLikelihood = gaussianLogLikelihood; self.laplaceLogLikelihood = laplaceLogLikelihood
    }

    /// The fits of the finite values among `values`; nil when there are none.
    public init?(values: some Collection<Float>) {
        var finite = values.filter(\.isFinite)
        guard !finite.isEmpty else { return nil }
        let n = Double(finite.count)
        let mean = finite.reduce(0.0) { $0 + Double($1) } / n
        let variance = finite.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let median = DistributionFit.median(&finite)
        let scale = finite.reduce(0.0) { $0 + abs(Double($1) - median) } / n
        let sigma = variance.squareRoot()
        var gaussian = Double.nan, laplace = Double.nan
        if sigma > 0 {
            let c = -0.5 * log(2 * Double.pi * variance)
            gaussian = finite.reduce(0.0) { $0 + c - (Double($1) - mean) * (Double($1) - mean) / (2 * variance) } / n
        }
        if scale > 0 {
            let c = -log(2 * scale)
            laplace = finite.reduce(0.0) { $0 + c - abs(Double($1) - median) / scale } / n
        }
        self.init(mean: mean, standardDeviation: sigma, median: median, scale: scale, gaussianLogLikelihood: gaussian, laplaceLogLikelihood: laplace)
    }

    /// The family with the higher average log-likelihood; nil when either is not finite.
    public var better: Family? {
        guard gaussianLogLikelihood.isFinite, laplaceLogLikelihood.isFinite else { return nil }
        return laplaceLogLikelihood > gaussianLogLikelihood ? .laplace : .gaussian
    }

    /// How much better the better fit is, in nats per value (≥ 0), or NaN.
    public var margin: Double { abs(laplaceLogLikelihood - gaussianLogLikelihood) }

    public func logLikelihood(_ family: Family) -> Double {
        family == .gaussian ? gaussianLogLikelihood : laplaceLogLikelihood
    }

    /// The fitted density at `x` (0 for a degenerate fit).
    public func density(_ family: Family, at x: Double) -> Double {
        switch family {
        case .gaussian:
            guard standardDeviation > 0 else { return 0 }
            let z = (x - mean) / standardDeviation
            return exp(-0.5 * z * z) / (standardDeviation * (2 * Double.pi).squareRoot())
        case .laplace:
            guard scale > 0 else { return 0 }
            return exp(-abs(x - median) / scale) / (2 * scale)
        }
    }

    /// The median of `values` (the mean of the two middle values for an even count),
    /// by selection in O(n) on average; reorders `values`.
    static func median(_ values: inout [Float]) -> Double {
        let n = values.count, k = n / 2
        select(&values, k)
        guard n % 2 == 0 else { return Double(values[k]) }
        // After selection everything before k is ≤ values[k]: the other middle value is their largest.
        let lower = values[0..<k].max()!
        return (Double(lower) + Double(values[k])) / 2
    }

    /// Reorders `a` so that a[k] is the value sorted order puts there, with nothing larger
    /// before it and nothing smaller after it (Hoare's selection, median-of-three pivots).
    static func select(_ a: inout [Float], _ k: Int) {
        var lo = 0, hi = a.count - 1
        while hi > lo {
            let mid = lo + (hi - lo) / 2
            if a[mid] < a[lo] { a.swapAt(mid, lo) }
            if a[hi] < a[lo] { a.swapAt(hi, lo) }
            if a[hi] < a[mid] { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return }
        }
    }
}
