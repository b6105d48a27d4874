/// Multiply-accumulate kernels on the same column layout as `AdderKernels`
/// (W is T × K, X is K × P, G is T × P), with the same blocking: the adder kernels
/// with a fused multiply-add in place of the rule.
///
/// Only the product that measured faster than OpenBLAS is here: dX = Wᵀ·G, where
/// T (16–64 filters) is the reduced dimension and P = N·H·W is huge, 1.1–1.7× on the
/// ResNet-20 shapes (`adderlab bench kernels`). Kernels of the same design for W·X
/// and G·Xᵀ measured no faster than OpenBLAS (0.8–1.3× and 0.4–1.5×) and were dropped.
public enum MACKernels {
    public typealias V = SIMD16<Float>
    public typealias V8 = SIMD8<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
    @inline(__always) static func store(_ v: V8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self) }

    // MARK: dX = Wᵀ·G

    /// Columns per pass of the input-gradient kernel, as in `AdderKernels`.
    static let inputGradientChunk = 256

    /// dX[k,p] = Σ_t W[t,k]·G[t,p].
    public static func inputGradient(w: UnsafePointer<Float>, g: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                     t T: Int, k K: Int, p P: Int) {
        let width = 16, chunkStrips = inputGradientChunk / width
        Parallel.chunks(P / width, minChunk: Swift.max(1, 4096 / Swift.max(T * K, 1))) { lo, hi in
            // Strips of G packed per chunk of columns; blocks of 6 rows of dX walk the chunk.
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: T * inputGradientChunk)
            defer { packed.deallocate() }
            var s0 = lo
            while s0 < hi {
                let strips = Swift.min(chunkStrips, hi - s0)
                let p0 = s0 * width
                for s in 0..<strips {
                    var src = g + p0 + s * width
                    let dst = packed + s * T * width
                    for t in 0..<T { store(load(src), dst + t * width); src += P }
                }
                var k = 0
                while k + 6 <= K {
                    var dr = dx + k * P + p0
                    var gp = UnsafePointer(packed)
                    for _ in 0..<strips {
                        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V()
                        var wp = w + k
                        for _ in 0..<T {
                            let gv = load(gp)
                            a0 = a0.addingProduct(gv, wp[0]); a1 = a1.addingProduct(gv, wp[1])
                            a2 = a2.addingProduct(gv, wp[2]); a3 = a3.addingProduct(gv, wp[3])
                            a4 = a4.addingProduct(gv, wp[4]); a5 = a5.addingProduct(gv, wp[5])
                            gp += width; wp += K
                        }
                        store(a0, dr); store(a1, dr + P); store(a2, dr + 2 * P)
                        store(a3, dr + 3 * P); store(a4, dr + 4 * P); store(a5, dr + 5 * P)
                        dr += width
                    }
                    k += 6
                }
                while k < K {
                    var dr = dx + k * P + p0
                    var gp = UnsafePointer(packed)
                    for _ in 0..<strips {
                        var a0 = V()
                        var wp = w + k
                        for _ in 0..<T { a0 = a0.addingProduct(load(gp), wp[0]); gp += width; wp += K }
                        store(a0, dr)
                        dr += width
                    }
                    k += 1
                }
                s0 += strips
            }
        }
        for p in (P - P % width)..<P {
            for k in 0..<K {
                var s: Float = 0
                for t in 0..<T { s += w[t * K + k] * g[t * P + p] }
                dx[k * P + p] = s
            }
        }
    }
}
