import Foundation
import Testing
import AdderCore
@testable import AdderTrain

/// Seeded samples: a uniform in (0, 1) from 53 random bits, never 0.
private func uniform(_ g: inout SeededGenerator) -> Double { (Double(g.next() >> 11) + 0.5) / 9_007_199_254_740_992 }

/// Laplace(μ, b) by the inverse CDF: x = μ − b·sgn(u)·ln(1 − 2|u|), u uniform in (−½, ½).
func laplaceSample(_ n: Int, mu: Double, b: Double, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<n).map { _ in
        let u = uniform(&g) - 0.5
        return Float(mu - b * (u < 0 ? -1 : 1) * log(1 - 2 * abs(u)))
    }
}

/// N(μ, σ²) by Box–Muller.
func gaussianSample(_ n: Int, mu: Double, sigma: Double, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<n).map { _ in
        let u1 = uniform(&g), u2 = uniform(&g)
        return Float(mu + sigma * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

@Suite("Histograms and distribution fits")
struct HistogramTests {
    /// [1, 2, 3, 4, 10] by hand: mean 4, σ² = (9+4+1+0+36)/5 = 10, median 3,
    /// b = (2+1+0+1+7)/5 = 2.2; LL per value −½ln(20π) − ½ and −ln(4.4) − 1.
    @Test func fitsOfFiveNumbersByHand() {
        let fit = DistributionFit(values: [10, 2, 4, 1, 3] as [Float])!
        let gaussian = -0.5 * log(20 * Double.pi) - 0.5, laplace = -log(4.4) - 1
        #expect(fit == DistributionFit(mean: 4, standardDeviation: 10.0.squareRoot(), median: 3, scale: 2.2,
                                       gaussianLogLikelihood: fit.gaussianLogLikelihood, laplaceLogLikelihood: fit.laplaceLogLikelihood))
        #expect(abs(fit.gaussianLogLikelihood - gaussian) < 1e-12)
        #expect(abs(fit.laplaceLogLikelihood - laplace) < 1e-12)
        #expect(String(format: "%.6f %.6f", fit.gaussianLogLikelihood, fit.laplaceLogLikelihood) == "-2.570231 -2.481605")
        #expect(fit.better == .laplace)
        #expect(abs(fit.density(.laplace, at: 3) - 1 / 4.4) < 1e-12)
        #expect(abs(fit.density(.gaussian, at: 4) - 1 / (20 * Double.pi).squareRoot()) < 1e-12)
    }

    @Test func medianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        let fit = DistributionFit(values: [4, 1, 3, 2] as [Float])!
        #expect([fit.mean, fit.median, fit.scale] == [2.5, 2.5, 1])
        var shuffled: [Float] = (0..<1001).map { Float(($0 * 389) % 1001) }
        #expect(DistributionFit.median(&shuffled) == 500)
        var repeated: [Float] = [5, 5, 1, 5, 5, 9, 5, 5]
        #expect(DistributionFit.median(&repeated) == 5)
    }

    @Test func histogramOfFiveNumbers() {
        let h = Histogram(values: [10, 2, 4, 1, 3] as [Float], bins: 3)!
        #expect(h == Histogram(minimum: 1, maximum: 10, counts: [3, 1, 1], sum: 20, sumOfSquares: 130, fit: DistributionFit(values: [1, 2, 3, 4, 10] as [Float])!))
        #expect([h.binWidth, h.edge(0), h.edge(1), h.edge(3)] == [3, 1, 4, 10])
        #expect(h.count == 5)
        #expect(abs(h.density(0) - 3.0 / 15) < 1e-15)
    }

    @Test func constantAndNonFiniteValues() {
        let h = Histogram(values: [2, 2, .nan, 2, .infinity] as [Float], bins: 5)!
        #expect([h.minimum, h.maximum] == [1.5, 2.5])
        #expect(h.counts == [0, 0, 3, 0, 0])
        #expect(h.fit.better == nil)
        #expect(h.fit.gaussianLogLikelihood.isNaN && h.fit.laplaceLogLikelihood.isNaN)
        #expect(Histogram(values: [Float.nan]) == nil)
        #expect(Histogram(values: [Float]()) == nil)
    }

    /// A seeded Laplace sample is told from a Gaussian one, and each fit finds its parameters.
    @Test func laplaceSampleIsIdentifiedAsLaplace() {
        let fit = Histogram(values: laplaceSample(20_000, mu: 0.1, b: 0.05, seed: 7))!.fit
        #expect(fit.better == .laplace)
        #expect(abs(fit.median - 0.1) < 0.003 && abs(fit.scale - 0.05) < 0.002)
        // The expected LL per value of Laplace(b) under its own fit is −ln(2b) − 1.
        #expect(abs(fit.laplaceLogLikelihood - (-log(0.1) - 1)) < 0.03)
        #expect(fit.margin > 0.02)
    }

    @Test func gaussianSampleIsIdentifiedAsGaussian() {
        let fit = Histogram(values: gaussianSample(20_000, mu: -1, sigma: 2, seed: 11))!.fit
        #expect(fit.better == .gaussian)
        #expect(abs(fit.mean + 1) < 0.05 && abs(fit.standardDeviation - 2) < 0.05)
        #expect(abs(fit.gaussianLogLikelihood - (-0.5 * log(2 * Double.pi * 4) - 0.5)) < 0.03)
        #expect(fit.margin > 0.02)
    }

    /// The histogram's bins follow the density they were drawn from.
    @Test func binsFollowTheSampledDensity() {
        let h = Histogram(values: gaussianSample(50_000, mu: 0, sigma: 1, seed: 3), bins: 41)!
        #expect(h.count == 50_000)
        let peak = h.counts.indices.max { h.counts[$0] < h.counts[$1] }!
        #expect(abs(h.edge(peak) + h.binWidth / 2) < 2 * h.binWidth)
        let mid = (h.edge(peak) + h.edge(peak + 1)) / 2
        #expect(abs(h.density(peak) - h.fit.density(.gaussian, at: mid)) < 0.03)
    }
}
