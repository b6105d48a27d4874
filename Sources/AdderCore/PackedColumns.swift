/// The walk shared by the input-gradient kernels (adder and multiply-accumulate):
/// dX (K × P) is produced strip by strip of `width` columns, and every strip needs the
/// matching strip of G (T rows, 4·P bytes apart). The strips are split over the cores;
/// each core takes them in chunks of 256 columns, packs the chunk's strips of G
/// contiguously — strip after strip, T × width floats each, followed by the strip's
/// column sums when `withSums` — and hands the chunk to `body`, which walks it for
/// every block of rows of X. Walking one strip down all K rows instead touches K
/// distant cache lines per strip, which no prefetcher follows (2.5× slower at T = 16).
enum PackedColumns {
    /// Columns per chunk: the packed strips of G (T × 256 floats) stay in L1/L2, and
    /// each row of X or dX is read or written as a 1 KiB sequential run.
    static let chunk = 256

    /// Calls `body(p0, strips, packed, stride)` for chunks of whole strips covering the
    /// columns [0, P − P % width); `packed + s·stride` is strip s of the chunk (T·width
    /// floats, then `width` column sums if `withSums`). The columns past the last whole
    /// strip are the caller's.
    @inline(__always)
    static func forEachChunk(g: UnsafePointer<Float>, t T: Int, k K: Int, p P: Int, width: Int, withSums: Bool,
                             _ body: (_ p0: Int, _ strips: Int, _ packed: UnsafePointer<Float>, _ stride: Int) -> Void) {
        precondition(width % 8 == 0, "strip width must be a multiple of 8")
        let chunkStrips = chunk / width, stride = (T + (withSums ? 1 : 0)) * width
        Parallel.chunks(P / width, minChunk: Swift.max(1, 32768 / Swift.max(T * K * width, 1))) { lo, hi in
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: chunkStrips * stride)
            defer { packed.deallocate() }
            var s0 = lo
            while s0 < hi {
                let strips = Swift.min(chunkStrips, hi - s0), p0 = s0 * width
                for s in 0..<strips {
                    for lane in Swift.stride(from: 0, to: width, by: 8) {
                        var src = g + p0 + s * width + lane
                        let dst = packed + s * stride + lane
                        var sum = SIMD8<Float>()
                        for t in 0..<T {
                            let v = UnsafeRawPointer(src).loadUnaligned(as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(dst + t * width).storeBytes(of: v, as: SIMD8<Float>.self)
                            sum += v
                            src += P
                        }
                        if withSums { UnsafeMutableRawPointer(dst + T * width).storeBytes(of: sum, as: SIMD8<Float>.self) }
                    }
                }
                body(p0, strips, packed, stride)
                s0 += strips
            }
        }
    }
}
