import Testing
import AdderTestSupport
@testable import AdderCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Plain scalar references, kept here so every optimized kernel is compared with
/// the definition, not with itself.
enum Reference {
    static func im2col(_ x: [Float], _ g: ConvGeometry) -> [Float] {
        var col = [Float](repeating: .nan, count: g.k * g.p)
        for c in 0..<g.c { for u in 0..<g.kh { for v in 0..<g.kw {
            let r = (c * g.kh + u) * g.kw + v
            for n in 0..<g.n { for i in 0..<g.ho { for j in 0..<g.wo {
                let h = i * g.stride + u - g.padding, w = j * g.stride + v - g.padding
                let val: Float = (h >= 0 && h < g.h && w >= 0 && w < g.w) ? x[((n * g.c + c) * g.h + h) * g.w + w] : 0
                col[r * g.p + (n * g.ho + i) * g.wo + j] = val
            } } }
        } } }
        return col
    }

    static func adderForward(w: [Float], x: [Float], T: Int, K: Int, P: Int) -> [Float] {
        var y = [Float](repeating: 0, count: T * P)
        for t in 0..<T { for p in 0..<P {
            var s: Double = 0
            for k in 0..<K { s += Double(abs(x[k * P + p] - w[t * K + k])) }
            y[t * P + p] = Float(-s)
        } }
        return y
    }

    static func rule(_ r: AdderKernels.InputRule, _ d: Float) -> Float {
        switch r {
        case .hardTanh: return min(max(d, -1), 1)
        case .sign: return d > 0 ? 1 : (d < 0 ? -1 : 0)
        case .identity: return d
        }
    }

    static func inputGradient(_ r: AdderKernels.InputRule, w: [Float], x: [Float], g: [Float], T: Int, K: Int, P: Int) -> [Float] {
        var dx = [Float](repeating: 0, count: K * P)
        for k in 0..<K { for p in 0..<P {
            var s: Double = 0
            for t in 0..<T { s += Double(g[t * P + p]) * Double(rule(r, w[t * K + k] - x[k * P + p])) }
            dx[k * P + p] = Float(s)
        } }
        return dx
    }

    static func filterGradient(_ r: AdderKernels.FilterRule, w: [Float], x: [Float], g: [Float], T: Int, K: Int, P: Int) -> [Float] {
        var dw = [Float](repeating: 0, count: T * K)
        for t in 0..<T { for k in 0..<K {
            var s: Double = 0
            for p in 0..<P {
                let d = x[k * P + p] - w[t * K + k]
                s += Double(g[t * P + p]) * Double(r == .fullPrecision ? d : (d > 0 ? 1 : (d < 0 ? -1 : 0)))
            }
            dw[t * K + k] = Float(s)
        } }
        return dw
    }
}

func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<n).map { _ in g.nextNormal() * scale }
}


/// Shapes not multiple of the vector width or the register block: T, K, P.
/// Odd sizes around the vector width and the blocking factors; (7, 10, 597) and
/// (9, 6, 1043) span several 256-column chunks of the input-gradient kernel and end in
/// a partial one; K = 600 takes the forward kernel's 256-row chunks.
let oddShapes: [(Int, Int, Int)] = [(1, 1, 1), (5, 7, 37), (4, 9, 48), (6, 27, 83), (16, 144, 130), (3, 2, 15),
                                    (7, 10, 597), (9, 6, 1043), (5, 600, 40)]   // K > 256: row chunks

@Suite("Adder kernels against the scalar reference")
struct AdderKernelTests {
    @Test(arguments: [1, 2])
    func forwardMatchesReference(threads: Int) {
        Parallel.withThreads(threads) {
            for (T, K, P) in oddShapes {
                let w = random(T * K, seed: 1), x = random(K * P, seed: 2)
                var y = [Float](repeating: .nan, count: T * P)
                AdderKernels.forward(w: w, x: x, y: &y, t: T, k: K, p: P)
                #expect(relativeError(y, Reference.adderForward(w: w, x: x, T: T, K: K, P: P)) < 1e-5, "T=\(T) K=\(K) P=\(P)")
            }
        }
    }

    @Test(arguments: AdderKernels.InputRule.allCases)
    func inputGradientMatchesReference(rule: AdderKernels.InputRule) {
        for threads in [1, 2] {
            Parallel.withThreads(threads) {
                for (T, K, P) in oddShapes {
                    let w = random(T * K, seed: 3), x = random(K * P, seed: 4), g = random(T * P, seed: 5)
                    var dx = [Float](repeating: .nan, count: K * P)
                    AdderKernels.inputGradient(rule: rule, w: w, x: x, g: g, dx: &dx, t: T, k: K, p: P)
                    let ref = Reference.inputGradient(rule, w: w, x: x, g: g, T: T, K: K, P: P)
                    #expect(relativeError(dx, ref) < 1e-5, "\(rule) T=\(T) K=\(K) P=\(P) threads=\(threads)")
                }
            }
        }
    }

    /// The HardTanh kernel sums G·min(max(W, X − 1), X + 1) and subtracts X·ΣG, so its
    /// rounding grows with |X|; at |X| ≈ 100 it must still be within 1e-4.
    @Test func hardTanhInputGradientFarFromZero() {
        for threads in [1, 2] {
            Parallel.withThreads(threads) {
                for (T, K, P) in oddShapes {
                    let w = random(T * K, seed: 9).map { $0 + 100 }, x = random(K * P, seed: 10).map { $0 + 100 }
                    let g = random(T * P, seed: 11)
                    var dx = [Float](repeating: .nan, count: K * P)
                    AdderKernels.inputGradient(rule: .hardTanh, w: w, x: x, g: g, dx: &dx, t: T, k: K, p: P)
                    let ref = Reference.inputGradient(.hardTanh, w: w, x: x, g: g, T: T, K: K, P: P)
                    #expect(relativeError(dx, ref) < 1e-4, "T=\(T) K=\(K) P=\(P) threads=\(threads)")
                }
            }
        }
    }

    @Test(arguments: AdderKernels.FilterRule.allCases)
    func filterGradientMatchesReference(rule: AdderKernels.FilterRule) {
        for threads in [1, 2] {
            Parallel.withThreads(threads) {
                for (T, K, P) in oddShapes {
                    let w = random(T * K, seed: 6), x = random(K * P, seed: 7), g = random(T * P, seed: 8)
                    var dw = [Float](repeating: .nan, count: T * K)
                    AdderKernels.filterGradient(rule: rule, w: w, x: x, g: g, dw: &dw, t: T, k: K, p: P)
                    let ref = Reference.filterGradient(rule, w: w, x: x, g: g, T: T, K: K, P: P)
                    #expect(relativeError(dw, ref) < 1e-5, "\(rule) T=\(T) K=\(K) P=\(P) threads=\(threads)")
                }
            }
        }
    }

    @Test func signAndAbsHelpersAreExact() {
        let d: [Float] = [-3, -1, -0.999, -1e-30, -0.0, 0, 1e-30, 0.5, 1, 1.0001, 7, .infinity, -.infinity,
                          -2, 2, 0.25, -0.25]
        let a = AdderKernels.vabs(SIMD16<Float>(d.prefix(16)))
        for i in 0..<16 { #expect(a[i] == abs(d[i]), "abs(\(d[i]))") }
        // sgn(a − b) for every pair of these values (ties, signed zeros, tiny and infinite
        // values included) against the sign of the Float difference.
        for a in d {
            for lo in stride(from: 0, to: 16, by: 8) {
                let b8 = SIMD8<Float>(d[lo..<lo + 8])
                let s8 = AdderKernels.signOfDifference(SIMD8(repeating: a), b8)
                let s8r = AdderKernels.signOfDifference(b8, SIMD8(repeating: a))
                for i in 0..<8 {
                    let diff = a - d[lo + i]
                    let expected: Float = diff > 0 ? 1 : (diff < 0 ? -1 : 0)
                    #expect(s8[i] == expected && s8r[i] == -expected, "sign(\(a) − \(d[lo + i]))")
                }
            }
        }
    }

    /// The sign rules where X and W tie exactly (zeros from padding and ReLU against zero
    /// filter entries, and equal values): sgn = 0 there, as in the reference.
    @Test func signRulesAtExactTies() {
        for threads in [1, 2] {
            Parallel.withThreads(threads) {
                for (T, K, P) in oddShapes {
                    // Values on a coarse grid, a quarter of them zero, so that many pairs tie.
                    let grid: (Int, UInt64) -> [Float] = { n, seed in random(n, seed: seed).map { ($0 * 2).rounded() / 2 } }
                    let w = grid(T * K, 31), x = grid(K * P, 32), g = random(T * P, seed: 33)
                    var dx = [Float](repeating: .nan, count: K * P), dw = [Float](repeating: .nan, count: T * K)
                    AdderKernels.inputGradient(rule: .sign, w: w, x: x, g: g, dx: &dx, t: T, k: K, p: P)
                    AdderKernels.filterGradient(rule: .sign, w: w, x: x, g: g, dw: &dw, t: T, k: K, p: P)
                    #expect(relativeError(dx, Reference.inputGradient(.sign, w: w, x: x, g: g, T: T, K: K, P: P)) < 1e-5, "T=\(T) K=\(K) P=\(P)")
                    #expect(relativeError(dw, Reference.filterGradient(.sign, w: w, x: x, g: g, T: T, K: K, P: P)) < 1e-5, "T=\(T) K=\(K) P=\(P)")
                }
            }
        }
    }
}

@Suite("Unfolding")
struct UnfoldTests {
    static let geometries: [(Int, Int, Int, Int, Int, Int, Int)] = [
        // n, c, h, w, k, stride, padding
        (2, 3, 5, 5, 3, 1, 1), (1, 2, 7, 6, 3, 2, 1), (3, 4, 4, 4, 1, 1, 0), (2, 3, 8, 8, 1, 2, 0),
        (1, 1, 5, 5, 5, 1, 0), (2, 2, 6, 7, 2, 2, 0), (1, 3, 9, 9, 7, 2, 3),
        // Stride-1 "same" unfoldings (the shifted-plane path), including a plane narrower than the window.
        (2, 2, 6, 7, 5, 1, 2), (3, 2, 4, 4, 1, 1, 0), (1, 1, 1, 4, 3, 1, 1), (2, 1, 3, 2, 3, 1, 1),
    ]

    @Test func im2colMatchesReference() throws {
        for (n, c, h, w, k, s, p) in Self.geometries {
            let g = try ConvGeometry(n: n, c: c, h: h, w: w, kh: k, kw: k, stride: s, padding: p)
            let x = random(n * c * h * w, seed: 11)
            var col = [Float](repeating: .nan, count: g.k * g.p)
            Unfold.im2col(x, g, into: &col)
            #expect(col == Reference.im2col(x, g), "\(g)")
        }
    }

    /// col2im is the adjoint of im2col: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.
    @Test func col2imIsTheAdjointOfIm2col() throws {
        for (n, c, h, w, k, s, p) in Self.geometries {
            let g = try ConvGeometry(n: n, c: c, h: h, w: w, kh: k, kw: k, stride: s, padding: p)
            let x = random(n * c * h * w, seed: 12), cols = random(g.k * g.p, seed: 13)
            let ax = Reference.im2col(x, g)
            var back = [Float](repeating: .nan, count: x.count)
            Unfold.col2im(cols, g, into: &back)
            let lhs = zip(ax, cols).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(lhs - rhs) < 1e-3 * (1 + abs(lhs)), "\(g)")
            // The scratch variant (a shifted-plane path on stride-1 "same" geometries) sums the same terms.
            var scratch = cols, back2 = [Float](repeating: .nan, count: x.count)
            Unfold.col2im(scratch: &scratch, g, into: &back2)
            #expect(zip(back, back2).allSatisfy { abs($0 - $1) <= 1e-5 * (1 + abs($0)) }, "scratch col2im \(g)")
        }
    }

    @Test func layoutTransposesRoundTrip() {
        let n = 3, t = 5, plane = 7
        let a = random(n * t * plane, seed: 14)
        var cols = [Float](repeating: 0, count: a.count), back = cols
        Unfold.nchwToColumns(a, into: &cols, n: n, t: t, plane: plane)
        Unfold.columnsToNCHW(cols, into: &back, n: n, t: t, plane: plane)
        #expect(back == a)
        #expect(cols[(2 * n + 1) * plane + 3] == a[(1 * t + 2) * plane + 3])
    }

    @Test func tooSmallInputIsAnErrorNamingTheShape() {
        #expect(throws: TensorError.self) { try ConvGeometry(n: 1, c: 1, h: 2, w: 2, kh: 5, kw: 5, stride: 1, padding: 0) }
    }
}

@Suite("BLAS")
struct BLASTests {
    @Test func productWithTransposeIsABTransposed() {
        for (m, n, len) in [(1, 1, 1), (3, 7, 5), (16, 144, 1030), (5, 2, 300)] {
            let a = random(m * len, seed: 22), b = random(n * len, seed: 23)
            var c = [Float](repeating: .nan, count: m * n)
            BLAS.productWithTranspose(a, m: m, b, n: n, length: len, into: &c)
            var ref = [Float](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { var s: Double = 0; for q in 0..<len { s += Double(a[i * len + q] * b[j * len + q]) }; ref[i * n + j] = Float(s) } }
            #expect(relativeError(c, ref) < 1e-5, "m=\(m) n=\(n) len=\(len)")
        }
    }

    @Test func splitGEMMMatchesSingleCall() {
        let m = 40, n = 300, k = 200
        let a = random(m * k, seed: 20), b = random(k * n, seed: 21)
        var ref = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { var s: Double = 0; for q in 0..<k { s += Double(a[i * k + q] * b[q * n + j]) }; ref[i * n + j] = Float(s) } }
        for threads in [1, 2] {
            Parallel.withThreads(threads) {
                var c = [Float](repeating: .nan, count: m * n)
                BLAS.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n)
                #expect(relativeError(c, ref) < 1e-5)
                // Transposed operands: Cᵀ = Bᵀ·Aᵀ.
                var ct = [Float](repeating: .nan, count: m * n)
                BLAS.sgemm(transA: true, transB: true, m: n, n: m, k: k, a: b, lda: n, b: a, ldb: k, c: &ct, ldc: m)
                var t = [Float](repeating: 0, count: m * n)
                for i in 0..<m { for j in 0..<n { t[j * m + i] = ref[i * n + j] } }
                #expect(relativeError(ct, t) < 1e-5)
            }
        }
    }
}

@Suite("Multiply-accumulate kernels against the scalar reference")
struct MACKernelTests {
    @Test(arguments: [1, 2])
    func inputGradientIsWTransposedTimesG(threads: Int) {
        Parallel.withThreads(threads) {
            // The odd shapes plus ones that leave 1–5 rows after the 6-row blocks.
            for (T, K, P) in oddShapes + [(3, 13, 600), (2, 11, 17)] {
                let w = random(T * K, seed: 30), g = random(T * P, seed: 31)
                var dx = [Float](repeating: .nan, count: K * P)
                MACKernels.inputGradient(w: w, g: g, dx: &dx, t: T, k: K, p: P)
                var ref = [Float](repeating: 0, count: K * P)
                for k in 0..<K {
                    for p in 0..<P {
                        var s: Double = 0
                        for t in 0..<T { s += Double(w[t * K + k]) * Double(g[t * P + p]) }
                        ref[k * P + p] = Float(s)
                    }
                }
                #expect(relativeError(dx, ref) < 1e-5, "T=\(T) K=\(K) P=\(P) threads=\(threads)")
            }
        }
    }
}

@Suite("Parallel")
struct ParallelTests {
    @Test func nestedChunksRunInlineOnTheChunksThread() {
        Parallel.withThreads(2) {
            #expect(!Parallel.isInsideChunk)
            let calls = Mutex<[[Int]]>([])
            Parallel.chunks(4) { lo, hi in
                #expect(Parallel.isInsideChunk)
                var inner: [(Int, Int)] = []
                Parallel.chunks(1000) { a, b in inner.append((a, b)) }   // inline: no other thread touches `inner`
                #expect(inner.count == 1 && inner[0] == (0, 1000))
                calls.withLock { $0.append([lo, hi]) }
            }
            #expect(!Parallel.isInsideChunk)
            // The outer chunks cover 0..<4 once, in two parts.
            let parts = calls.withLock { $0 }.sorted { $0[0] < $1[0] }
            #expect(parts == [[0, 2], [2, 4]])
        }
    }
}

@Suite("Scratch")
struct ScratchTests {
    @Test func reusedOnAThreadDistinctAcrossThreadsAndAligned() {
        let a = Scratch.floats(100)
        #expect(Int(bitPattern: a) % 64 == 0)
        a[99] = 7
        #expect(Scratch.floats(50) == a, "a smaller request reuses the buffer")
        let b = Scratch.floats(1 << 20)
        b[(1 << 20) - 1] = 1   // grown: the whole range is writable
        #expect(Int(bitPattern: b) % 64 == 0)
        // Each thread has its own buffer (GCD may run both chunks on one thread).
        let seen = Mutex<[(thread: pthread_t, address: Int)]>([])
        Parallel.withThreads(2) {
            for _ in 0..<20 {
                Parallel.chunks(2) { _, _ in
                    let p = Scratch.floats(1000)
                    p[999] = 1
                    seen.withLock { $0.append((pthread_self(), Int(bitPattern: p))) }
                }
            }
            for x in seen.withLock({ $0 }) {
                for y in seen.withLock({ $0 }) {
                    #expect((pthread_equal(x.thread, y.thread) != 0) == (x.address == y.address))
                }
            }
        }
    }
}
