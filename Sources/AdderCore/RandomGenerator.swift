/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64), so
/// that a seed fixes every initialisation and shuffle on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Standard normal sample (Box–Muller, in Double for accuracy).
    public mutating func nextNormal() -> Float {
        let u1 = (Double(next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)  // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif

extension Tensor {
    /// A tensor of independent N(0, std²) samples.
    public static func normal(shape: [Int], std: Float = 1, generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { b in
            for i in b.indices { b[i] = generator.nextNormal() * std }
        }
        return t
    }

    /// A tensor of independent U(lo, hi) samples.
    public static func uniform(shape: [Int], in lo: Float, _ hi: Float, generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        t.withUnsafeMutableBufferPointer { b in
            for i in b.indices { b[i] = lo + (hi - lo) * generator.nextUniform() }
        }
        return t
    }
}
