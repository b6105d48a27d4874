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

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    // MARK: dX = Wᵀ·G

    /// dX[k,p] = Σ_t W[t,k]·G[t,p]: blocks of 6 rows of dX, 16 lanes (12 accumulators),
    /// walk each packed chunk of G (see `PackedColumns`).
    public static func inputGradient(w: UnsafePointer<Float>, g: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                     t T: Int, k K: Int, p P: Int) {
        let width = 16
        PackedColumns.forEachChunk(g: g, t: T, k: K, p: P, width: width, withSums: false) { p0, strips, packed, stride in
            var k = 0
            while k + 6 <= K {
                var dr = dx + k * P + p0
                for s in 0..<strips {
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V()
                    var gp = packed + s * stride, wp = w + k
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
                for s in 0..<strips {
                    var a0 = V()
                    var gp = packed + s * stride, wp = w + k
                    for _ in 0..<T { a0 = a0.addingProduct(load(gp), wp[0]); gp += width; wp += K }
                    store(a0, dr)
                    dr += width
                }
                k += 1
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
