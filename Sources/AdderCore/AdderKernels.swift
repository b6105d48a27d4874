import CVector

/// The adder layer's kernels on the column layout (see `ConvGeometry`):
/// filters W are T × K, unfolded inputs X are K × P, outputs and output gradients
/// are T × P. Each is register-blocked like a GEMM micro-kernel: a small block of
/// rows stays in registers while vectors stream along P — 16 wide in the forward
/// kernel (4 accumulator pairs), 8 wide in the gradient kernels, whose blocks would
/// otherwise need more than AVX2's 16 vector registers.
public enum AdderKernels {
    public typealias V = SIMD16<Float>
    public static let width = 16
    public typealias V8 = SIMD8<Float>
    public static let width8 = 8

    /// Rule for ∂Y/∂X applied to d = W − X.
    public enum InputRule: String, Sendable, CaseIterable, Codable {
        /// clamp(d, −1, 1): the paper's HardTanh rule.
        case hardTanh
        /// sgn(d): the exact subgradient of the L1 distance.
        case sign
        /// d itself, unclipped (the paper shows it explodes).
        case identity
    }

    /// Rule for ∂Y/∂W applied to d = X − W.
    public enum FilterRule: String, Sendable, CaseIterable, Codable {
        /// d itself: the paper's full-precision gradient.
        case fullPrecision
        /// sgn(d): the exact subgradient of the L1 distance.
        case sign
    }

    // MARK: vector helpers

    @inline(__always) @usableFromInline static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) @usableFromInline static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// |d| by clearing the sign bit.
    @inline(__always) @usableFromInline static func vabs(_ d: V) -> V {
        unsafeBitCast(unsafeBitCast(d, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: V.self)
    }

    @inline(__always) @usableFromInline static func load8(_ p: UnsafePointer<Float>) -> V8 {
        UnsafeRawPointer(p).loadUnaligned(as: V8.self)
    }

    @inline(__always) @usableFromInline static func store(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
    }

    /// sgn(a − b) ∈ {−1, 0, 1} per lane, from two compares (see `adder_sign_diff8`).
    @inline(__always) @usableFromInline static func signOfDifference(_ a: V8, _ b: V8) -> V8 { adder_sign_diff8(a, b) }

    @inline(__always) static func sHardTanh(_ d: Float) -> Float { Swift.min(Swift.max(d, -1), 1) }
    @inline(__always) static func sSign(_ d: Float) -> Float { d > 0 ? 1 : (d < 0 ? -1 : 0) }

    // MARK: forward

    /// Y[t,p] = −Σ_k |X[k,p] − W[t,k]|.
    public static func forward(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                               t T: Int, k K: Int, p P: Int) {
        Parallel.chunks(P / width, minChunk: Swift.max(1, 4096 / Swift.max(T * K, 1))) { lo, hi in
            forwardBlock(w: w, x: x, y: y, T: T, K: K, P: P, p0: lo * width, p1: hi * width)
        }
        let tail = P - P % width
        if tail < P { forwardTail(w: w, x: x, y: y, T: T, K: K, P: P, p0: tail) }
    }

    /// Strips of X packed together by the forward kernel (8 × 16 columns).
    static let forwardPackGroup = 8
    /// Rows of a packed strip summed before the partial sums go through y.
    static let forwardRowChunk = 256

    /// Columns [p0, p1) of the output, one 16-wide strip at a time. Each strip of X
    /// (K rows, 4·P bytes apart — a power of two for typical shapes, so the rows collide
    /// in the same cache sets) is packed into a contiguous K×16 block, which then
    /// stays in L1 while every block of 4 filters streams over it.
    static func forwardBlock(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                             T: Int, K: Int, P: Int, p0: Int, p1: Int) {
        // Strips are packed a group at a time, so each row of X is read as a run of
        // `group` × 64 bytes rather than one cache line per row per strip.
        let group = forwardPackGroup
        // a + |d| as fma(|d|, 1, a): the same value, on the FMA pipes (see CVector).
        let one = V(repeating: adder_opaque_one())
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: K * width * group)
        defer { packed.deallocate() }
        var p = p0, filled = 0, next = 0
        while p < p1 {
            if next == filled {
                filled = Swift.min(group, (p1 - p) / width)
                for k in 0..<K {
                    let src = x + k * P + p
                    for s in 0..<filled { store(load(src + s * width), packed + (s * K + k) * width) }
                }
                next = 0
            }
            let strip = UnsafePointer(packed + next * K * width)
            next += 1
            // Rows of the strip in chunks of at most 256 (16 KiB), so the part every block
            // of filters re-reads stays in L1 (a K = 576 strip is 36 KiB). Partial sums go
            // through y between chunks; the last chunk stores the negated total.
            var k0 = 0
            while k0 < K {
                let k1 = Swift.min(K, k0 + forwardRowChunk), first = k0 == 0, last = k1 == K
                @inline(__always) func start(_ yt: UnsafeMutablePointer<Float>) -> V { first ? V() : load(yt) }
                @inline(__always) func finish(_ a: V, _ yt: UnsafeMutablePointer<Float>) { store(last ? -a : a, yt) }
                var t = 0
                while t + 4 <= T {
                    let y0 = y + t * P + p, y1 = y0 + P, y2 = y1 + P, y3 = y2 + P
                    var a0 = start(y0), a1 = start(y1), a2 = start(y2), a3 = start(y3)
                    let w0 = w + t * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K
                    var xp = strip + k0 * width
                    for k in k0..<k1 {
                        let xv = load(xp)
                        a0 = a0.addingProduct(vabs(xv - w0[k]), one); a1 = a1.addingProduct(vabs(xv - w1[k]), one)
                        a2 = a2.addingProduct(vabs(xv - w2[k]), one); a3 = a3.addingProduct(vabs(xv - w3[k]), one)
                        xp += width
                    }
                    finish(a0, y0); finish(a1, y1); finish(a2, y2); finish(a3, y3)
                    t += 4
                }
                while t < T {
                    let y0 = y + t * P + p
                    var a0 = start(y0)
                    let w0 = w + t * K
                    var xp = strip + k0 * width
                    for k in k0..<k1 { a0 = a0.addingProduct(vabs(load(xp) - w0[k]), one); xp += width }
                    finish(a0, y0)
                    t += 1
                }
                k0 = k1
            }
            p += width
        }
    }

    /// The columns [p0, P) past the last whole strip (fewer than 16): copied into one
    /// zero-padded strip and run through the vector kernel, which then writes only them
    /// back. (Scalar, they were 10% of a LeNet-5-BN evaluation, whose conv3 blocks have
    /// 62 columns.)
    static func forwardTail(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                            T: Int, K: Int, P: Int, p0: Int) {
        let r = P - p0
        let xs = UnsafeMutablePointer<Float>.allocate(capacity: K * width), ys = UnsafeMutablePointer<Float>.allocate(capacity: T * width)
        defer { xs.deallocate(); ys.deallocate() }
        xs.initialize(repeating: 0, count: K * width)
        for k in 0..<K { (xs + k * width).update(from: x + k * P + p0, count: r) }
        forwardBlock(w: w, x: xs, y: ys, T: T, K: K, P: width, p0: 0, p1: width)
        for t in 0..<T { (y + t * P + p0).update(from: ys + t * width, count: r) }
    }

    // MARK: input gradient

    /// dX[k,p] = Σ_t G[t,p] · rule(W[t,k] − X[k,p]).
    public static func inputGradient(rule: InputRule, w: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                     g: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                     t T: Int, k K: Int, p P: Int) {
        switch rule {
        case .hardTanh: inputGradientHardTanh(w: w, x: x, g: g, dx: dx, T: T, K: K, P: P)
        case .sign: inputGradientSign(w: w, x: x, g: g, dx: dx, T: T, K: K, P: P)
        case .identity:
            // Σ_t G[t,p]·(W[t,k] − X[k,p]) = (Wᵀ·G)[k,p] − X[k,p]·Σ_t G[t,p]: one matrix product.
            MACKernels.inputGradient(w: w, g: g, dx: dx, t: T, k: K, p: P)
            Parallel.chunks(P, minChunk: 1024) { lo, hi in
                for p in lo..<hi {
                    var s: Float = 0
                    for t in 0..<T { s += g[t * P + p] }
                    for k in 0..<K { dx[k * P + p] -= x[k * P + p] * s }
                }
            }
        }
    }

    /// The sign rule: Σ_t G[t,p]·sgn(W[t,k] − X[k,p]).
    static func inputGradientSign(w: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                  g: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, T: Int, K: Int, P: Int) {
        // 4 rows × 8 lanes with fused multiply-adds fit the 16 AVX2 registers; 4 rows ×
        // 16 lanes spilled (1.3× slower).
        let width = width8
        PackedColumns.forEachChunk(g: g, t: T, k: K, p: P, width: width, withSums: false) { p0, strips, packed, stride in
            var k = 0
            while k < K {
                let rows = Swift.min(4, K - k)
                var xr = x + k * P + p0, dr = dx + k * P + p0
                for s in 0..<strips {
                    let strip = packed + s * stride
                    if rows == 4 {
                        let x0 = load8(xr), x1 = load8(xr + P), x2 = load8(xr + 2 * P), x3 = load8(xr + 3 * P)
                        var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8()
                        var gp = strip, wp = w + k
                        for _ in 0..<T {
                            let gv = load8(gp)
                            a0 = a0.addingProduct(gv, signOfDifference(V8(repeating: wp[0]), x0))
                            a1 = a1.addingProduct(gv, signOfDifference(V8(repeating: wp[1]), x1))
                            a2 = a2.addingProduct(gv, signOfDifference(V8(repeating: wp[2]), x2))
                            a3 = a3.addingProduct(gv, signOfDifference(V8(repeating: wp[3]), x3))
                            gp += width; wp += K
                        }
                        store(a0, dr); store(a1, dr + P); store(a2, dr + 2 * P); store(a3, dr + 3 * P)
                    } else {
                        for r in 0..<rows {
                            let x0 = load8(xr + r * P)
                            var a0 = V8()
                            var gp = strip, wp = w + k + r
                            for _ in 0..<T { a0 = a0.addingProduct(load8(gp), signOfDifference(V8(repeating: wp[0]), x0)); gp += width; wp += K }
                            store(a0, dr + r * P)
                        }
                    }
                    xr += width; dr += width
                }
                k += rows
            }
        }
        inputGradientTail(sSign, w: w, x: x, g: g, dx: dx, T: T, K: K, P: P, from: P - P % width)
    }

    /// The HardTanh rule rewritten so that each pair costs a max, a min and a fused
    /// multiply-add (the generic kernel spends a subtraction more, 1.1–1.4× slower):
    ///
    ///     Σ_t G[t,p]·clamp(W[t,k] − X[k,p], −1, 1)
    ///       = Σ_t G[t,p]·min(max(W[t,k], X[k,p] − 1), X[k,p] + 1) − X[k,p]·Σ_t G[t,p]
    ///
    /// with X ± 1 held in registers and Σ_t G computed once per strip. Exact in real
    /// arithmetic; in Float the products are of size |X| + 1 instead of ≤ 1, so the
    /// rounding error grows with |X| (relative ~1e-7·(|X| + 1); inputs to adder layers
    /// come out of batch norm and ReLU, |X| of order 1–10). Tested at |X| ≈ 100.
    static func inputGradientHardTanh(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                      dx: UnsafeMutablePointer<Float>, T: Int, K: Int, P: Int) {
        let width = width8
        PackedColumns.forEachChunk(g: g, t: T, k: K, p: P, width: width, withSums: true) { p0, strips, packed, stride in
            var k = 0
            while k < K {
                let rows = Swift.min(4, K - k)
                var xr = x + k * P + p0, dr = dx + k * P + p0
                for s in 0..<strips {
                    let strip = packed + s * stride
                    let gs = load8(strip + T * width)
                    if rows == 4 {
                        let x0 = load8(xr), x1 = load8(xr + P), x2 = load8(xr + 2 * P), x3 = load8(xr + 3 * P)
                        let l0 = x0 - 1, h0 = x0 + 1, l1 = x1 - 1, h1 = x1 + 1
                        let l2 = x2 - 1, h2 = x2 + 1, l3 = x3 - 1, h3 = x3 + 1
                        var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8()
                        var gp = strip, wp = w + k
                        for _ in 0..<T {
                            let gv = load8(gp)
                            a0 = a0.addingProduct(gv, adder_clamp_between8(wp[0], l0, h0))
                            a1 = a1.addingProduct(gv, adder_clamp_between8(wp[1], l1, h1))
                            a2 = a2.addingProduct(gv, adder_clamp_between8(wp[2], l2, h2))
                            a3 = a3.addingProduct(gv, adder_clamp_between8(wp[3], l3, h3))
                            gp += width; wp += K
                        }
                        store(a0 - x0 * gs, dr); store(a1 - x1 * gs, dr + P)
                        store(a2 - x2 * gs, dr + 2 * P); store(a3 - x3 * gs, dr + 3 * P)
                    } else {
                        for r in 0..<rows {
                            let x0 = load8(xr + r * P), l0 = x0 - 1, h0 = x0 + 1
                            var a0 = V8()
                            var gp = strip, wp = w + k + r
                            for _ in 0..<T { a0 = a0.addingProduct(load8(gp), adder_clamp_between8(wp[0], l0, h0)); gp += width; wp += K }
                            store(a0 - x0 * gs, dr + r * P)
                        }
                    }
                    xr += width; dr += width
                }
                k += rows
            }
        }
        inputGradientTail(sHardTanh, w: w, x: x, g: g, dx: dx, T: T, K: K, P: P, from: P - P % width)
    }

    /// The columns [p0, P) past the last whole strip, scalar.
    static func inputGradientTail(_ rule: (Float) -> Float, w: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                  g: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, T: Int, K: Int, P: Int, from p0: Int) {
        for p in p0..<P {
            for k in 0..<K {
                var s: Float = 0
                for t in 0..<T { s += g[t * P + p] * rule(w[t * K + k] - x[k * P + p]) }
                dx[k * P + p] = s
            }
        }
    }

    // MARK: filter gradient

    /// dW[t,k] = Σ_p G[t,p] · rule(X[k,p] − W[t,k]).
    public static func filterGradient(rule: FilterRule, w: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                      g: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>,
                                      t T: Int, k K: Int, p P: Int) {
        switch rule {
        case .fullPrecision:
            // Σ_p G[t,p]·(X[k,p] − W[t,k]) = (G·Xᵀ)[t,k] − W[t,k]·Σ_p G[t,p]: one GEMM and a row scaling.
            BLAS.productWithTranspose(g, m: T, x, n: K, length: P, into: dw)
            Parallel.chunks(T) { lo, hi in
                for t in lo..<hi {
                    // Σ_p G[t,p] in 8-lane partial sums (a scalar running sum is latency-bound).
                    let gt = g + t * P
                    var acc = V8(), p = 0
                    while p + 8 <= P { acc += load8(gt + p); p += 8 }
                    var s = acc.sum()
                    while p < P { s += gt[p]; p += 1 }
                    for k in 0..<K { dw[t * K + k] -= w[t * K + k] * s }
                }
            }
        case .sign:
            filterGradientSign(w: w, x: x, g: g, dw: dw, T: T, K: K, P: P)
        }
    }

    /// Blocks of 2 filters × 4 rows of X, 8 lanes wide (eight accumulators, six
    /// streams along P), fused multiply-adds.
    static func filterGradientSign(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                   dw: UnsafeMutablePointer<Float>, T: Int, K: Int, P: Int) {
        let width = width8, pv = P - P % width
        @inline(__always) func finish(_ acc: V8, _ t: Int, _ k: Int) {
            var s = acc.sum()
            let gr = g + t * P, xr = x + k * P, wv = w[t * K + k]
            for q in pv..<P { s += gr[q] * sSign(xr[q] - wv) }
            dw[t * K + k] = s
        }
        Parallel.chunks(T) { lo, hi in
            var t = lo
            while t < hi {
                let rows = Swift.min(2, hi - t)
                var k = 0
                while k < K {
                    let cols = Swift.min(4, K - k)
                    if rows == 2 && cols == 4 {
                        let wa = w + t * K + k, wb = wa + K
                        var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8(), b0 = V8(), b1 = V8(), b2 = V8(), b3 = V8()
                        let ga = g + t * P, gb = ga + P
                        let x0 = x + k * P, x1 = x0 + P, x2 = x1 + P, x3 = x2 + P
                        let wa0 = V8(repeating: wa[0]), wa1 = V8(repeating: wa[1]), wa2 = V8(repeating: wa[2]), wa3 = V8(repeating: wa[3])
                        let wb0 = V8(repeating: wb[0]), wb1 = V8(repeating: wb[1]), wb2 = V8(repeating: wb[2]), wb3 = V8(repeating: wb[3])
                        var p = 0
                        while p < pv {
                            let gva = load8(ga + p), gvb = load8(gb + p)
                            let xv0 = load8(x0 + p), xv1 = load8(x1 + p), xv2 = load8(x2 + p), xv3 = load8(x3 + p)
                            a0 = a0.addingProduct(gva, signOfDifference(xv0, wa0)); a1 = a1.addingProduct(gva, signOfDifference(xv1, wa1))
                            a2 = a2.addingProduct(gva, signOfDifference(xv2, wa2)); a3 = a3.addingProduct(gva, signOfDifference(xv3, wa3))
                            b0 = b0.addingProduct(gvb, signOfDifference(xv0, wb0)); b1 = b1.addingProduct(gvb, signOfDifference(xv1, wb1))
                            b2 = b2.addingProduct(gvb, signOfDifference(xv2, wb2)); b3 = b3.addingProduct(gvb, signOfDifference(xv3, wb3))
                            p += width
                        }
                        finish(a0, t, k); finish(a1, t, k + 1); finish(a2, t, k + 2); finish(a3, t, k + 3)
                        finish(b0, t + 1, k); finish(b1, t + 1, k + 1); finish(b2, t + 1, k + 2); finish(b3, t + 1, k + 3)
                    } else {
                        for r in 0..<rows {
                            for c in 0..<cols {
                                let gr = g + (t + r) * P, xr = x + (k + c) * P, wv = w[(t + r) * K + k + c]
                                var acc = V8()
                                var p = 0
                                let wvv = V8(repeating: wv)
                                while p < pv { acc = acc.addingProduct(load8(gr + p), signOfDifference(load8(xr + p), wvv)); p += width }
                                finish(acc, t + r, k + c)
                            }
                        }
                    }
                    k += cols
                }
                t += rows
            }
        }
    }
}
