import COpenBLAS

/// Row-major single-precision GEMM through OpenBLAS, split over our own threads.
///
/// OpenBLAS is set to one thread the first time this is used; large products are
/// cut into column (or row) panels that run under `Parallel`, so OpenBLAS threads
/// and kernel threads never oversubscribe the cores, and the result of every
/// element is computed by one call whatever the split (bit-identical for a given
/// thread count).
public enum BLAS {
    /// The kernels OpenBLAS chose for this CPU at load time ("Haswell", "SkylakeX", "Zen", …;
    /// "Prescott" is its SSE3 fallback for a CPU model it does not know).
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    private static let pinned: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major with leading dimensions.
    public static func sgemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = pinned
        guard m > 0, n > 0 else { return }
        let ta = transA ? CblasTrans : CblasNoTrans
        let tb = transB ? CblasTrans : CblasNoTrans
        let work = m * n * Swift.max(k, 1)
        let parts = work < 2_000_000 ? 1 : Parallel.threads
        if parts <= 1 {
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            return
        }
        if n >= m {
            // Split the columns of C (and of op(B)).
            Parallel.chunks(n, minChunk: 16) { lo, hi in
                let bOff = transB ? lo * ldb : lo
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(hi - lo), Int32(k), alpha, a, Int32(lda),
                            b + bOff, Int32(ldb), beta, c + lo, Int32(ldc))
            }
        } else {
            // Split the rows of C (and of op(A)).
            Parallel.chunks(m, minChunk: 4) { lo, hi in
                let aOff = transA ? lo : lo * lda
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(hi - lo), Int32(n), Int32(k), alpha, a + aOff, Int32(lda),
                            b, Int32(ldb), beta, c + lo * ldc, Int32(ldc))
            }
        }
    }

    /// C[m×n] = A·Bᵀ for A m × len and B n × len, both row-major with rows of `len`:
    /// the reduction over long rows of a filter gradient (G·Xᵀ). OpenBLAS runs this
    /// 1.1–2× faster when asked for Cᵀ = B·Aᵀ with the larger operand first (its
    /// packing suits a small n), so that is what is computed, then transposed.
    public static func productWithTranspose(_ a: UnsafePointer<Float>, m: Int, _ b: UnsafePointer<Float>, n: Int, length: Int,
                                            into c: UnsafeMutablePointer<Float>) {
        let ct = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(m * n, 1))
        defer { ct.deallocate() }
        sgemm(transB: true, m: n, n: m, k: length, a: b, lda: length, b: a, ldb: length, c: ct, ldc: m)
        // Transposed in bands of 64 rows of Cᵀ, which stay in L1 while every row of C
        // takes its slice (a plain strided loop was 3.5% of a ResNet-20 CNN step).
        for j0 in stride(from: 0, to: n, by: 64) {
            let j1 = Swift.min(n, j0 + 64)
            for i in 0..<m { for j in j0..<j1 { c[i * n + j] = ct[j * m + i] } }
        }
    }
}
