/// The shape arithmetic of a 2-D convolution or adder layer over an NCHW batch.
///
/// The unfolded ("column") layout used by every kernel is K × P with
/// K = C·kh·kw rows ordered (c, u, v) and P = N·Ho·Wo columns ordered (n, i, j).
public struct ConvGeometry: Sendable, Equatable, CustomStringConvertible {
    public let n: Int, c: Int, h: Int, w: Int
    public let kh: Int, kw: Int, stride: Int, padding: Int
    public let ho: Int, wo: Int

    public init(n: Int, c: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int, padding: Int) throws(TensorError) {
        self.n = n; self.c = c; self.h = h; self.w = w
        self.kh = kh; self.kw = kw; self.stride = stride; self.padding = padding
        let hoRaw = stride > 0 ? (h + 2 * padding - kh) / stride + 1 : 0
        let woRaw = stride > 0 ? (w + 2 * padding - kw) / stride + 1 : 0
        guard stride > 0, padding >= 0, kh > 0, kw > 0, h + 2 * padding >= kh, w + 2 * padding >= kw else {
            throw .shapeMismatch(expected: [n, c, Swift.max(kh - 2 * padding, 1), Swift.max(kw - 2 * padding, 1)],
                                 got: [n, c, h, w], context: "a \(kh)×\(kw) window (stride \(stride), padding \(padding)) needs a larger input")
        }
        ho = hoRaw; wo = woRaw
    }

    private init(validated g: ConvGeometry, n: Int) {
        self.n = n; c = g.c; h = g.h; w = g.w
        kh = g.kh; kw = g.kw; stride = g.stride; padding = g.padding
        ho = g.ho; wo = g.wo
    }

    /// The same window over `n` images (a part of the batch).
    public func batch(_ n: Int) -> ConvGeometry { ConvGeometry(validated: self, n: n) }

    /// Rows of the unfolded input: C·kh·kw.
    @inlinable public var k: Int { c * kh * kw }
    /// Columns of the unfolded input: N·Ho·Wo.
    @inlinable public var p: Int { n * ho * wo }

    public var description: String { "[\(n),\(c),\(h),\(w)] * \(kh)x\(kw)/s\(stride)/p\(padding) -> \(ho)x\(wo)" }

    /// Stride 1 with the output the size of the input ("same" padding, 2·pad = k − 1),
    /// where unfolding is a shift of each channel plane.
    @inlinable public var isSameStrideOne: Bool { stride == 1 && ho == h && wo == w }

    /// The output columns j in [lo, hi) whose input column j·s+v−pad is inside the image.
    @inlinable func validRange(offset v: Int, size: Int, outSize: Int) -> (Int, Int) {
        // need 0 <= j*s + v - pad < size
        let first = padding - v
        let lo = first <= 0 ? 0 : (first + stride - 1) / stride
        let lastIn = size - 1 + padding - v
        let hi = lastIn < 0 ? 0 : Swift.min(outSize, lastIn / stride + 1)
        return (lo, Swift.max(lo, hi))
    }
}

/// im2col / col2im and the channel–batch transposes between NCHW and column layout.
public enum Unfold {
    /// Writes the zero-padded patches of `x` (NCHW, geometry `g`) into `col` (K × P).
    public static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, into col: UnsafeMutablePointer<Float>) {
        let P = g.p, hw = g.h * g.w, plane = g.ho * g.wo
        Parallel.chunks(g.k, minChunk: Swift.max(1, 32768 / Swift.max(P, 1))) { lo, hi in
            if g.isSameStrideOne {
                for r in lo..<hi { sameRow(x, g, row: r, into: col + r * P) }
                return
            }
            for r in lo..<hi {
                let v = r % g.kw, u = (r / g.kw) % g.kh, c = r / (g.kw * g.kh)
                let (j0, j1) = g.validRange(offset: v, size: g.w, outSize: g.wo)
                let row = col + r * P
                for n in 0..<g.n {
                    let src = x + (n * g.c + c) * hw
                    for i in 0..<g.ho {
                        let dst = row + n * plane + i * g.wo
                        let hIn = i * g.stride + u - g.padding
                        if hIn < 0 || hIn >= g.h {
                            dst.initialize(repeating: 0, count: g.wo)
                            continue
                        }
                        if j0 > 0 { dst.initialize(repeating: 0, count: j0) }
                        if j1 < g.wo { (dst + j1).initialize(repeating: 0, count: g.wo - j1) }
                        let srow = src + hIn * g.w + v - g.padding
                        if g.stride == 1 {
                            if j1 > j0 { (dst + j0).update(from: srow + j0, count: j1 - j0) }
                        } else {
                            var j = j0
                            while j < j1 { dst[j] = srow[j * g.stride]; j += 1 }
                        }
                    }
                }
            }
        }
    }

    /// Row r = (c, u, v) of a stride-1 "same" unfolding, per image plane of h·w cells:
    /// cell q reads input cell q + offset. Cells [a, b) have their source inside the
    /// plane; of those, the ones whose source column is off the image (|v − pad| per
    /// image row, rows q0/w..<q1/w) wrapped to a neighbouring row and must be zero.
    struct SameShift {
        let channel: Int, offset: Int, a: Int, b: Int
        let rows: Range<Int>, columns: Range<Int>

        init(_ g: ConvGeometry, row r: Int) {
            let v = r % g.kw, u = (r / g.kw) % g.kh
            channel = r / (g.kw * g.kh)
            let h = g.h, w = g.w, dy = u - g.padding, dx = v - g.padding
            offset = dy * w + dx
            let q0 = Swift.max(0, -dy) * w, q1 = Swift.min(h, h - dy) * w   // cells with a valid source row
            a = Swift.max(q0, -offset)
            b = Swift.max(a, Swift.min(q1, h * w - offset))
            rows = q0 / w..<q1 / w
            columns = dx > 0 ? w - dx..<w : 0..<(dx < 0 ? Swift.min(w, -dx) : 0)
        }

        /// Zeroes the wrapped cells of one image's row of columns.
        func zeroWrapped(_ plane: UnsafeMutablePointer<Float>, width w: Int) {
            guard !columns.isEmpty else { return }
            for i in rows { for j in columns { plane[i * w + j] = 0 } }
        }
    }

    /// Row r = (c, u, v) of a stride-1 "same" unfolding: each image's channel plane
    /// shifted by (u − pad, v − pad), which is one contiguous copy of the flattened plane
    /// followed by zeroing the cells whose window falls off the image (whole rows at the
    /// top or bottom, |v − pad| cells at the start or end of each row). The row-by-row
    /// copies of the general path are 8–32 floats each, mostly call overhead.
    static func sameRow(_ x: UnsafePointer<Float>, _ g: ConvGeometry, row r: Int, into dst: UnsafeMutablePointer<Float>) {
        let shift = SameShift(g, row: r), hw = g.h * g.w, a = shift.a, b = shift.b
        for n in 0..<g.n {
            let src = x + (n * g.c + shift.channel) * hw, out = dst + n * hw
            if a > 0 { out.initialize(repeating: 0, count: a) }
            if b > a { (out + a).update(from: src + a + shift.offset, count: b - a) }
            if b < hw { (out + b).initialize(repeating: 0, count: hw - b) }
            shift.zeroWrapped(out, width: g.w)
        }
    }

    /// `col2im` for scratch columns it may overwrite: on stride-1 "same" geometries it
    /// zeroes each row's off-image cells in `col` and then adds the row to its shifted
    /// plane as one contiguous run (the inverse of `sameRow`); otherwise it is `col2im`.
    public static func col2im(scratch col: UnsafeMutablePointer<Float>, _ g: ConvGeometry, into dx: UnsafeMutablePointer<Float>) {
        guard g.isSameStrideOne else { col2im(col, g, into: dx); return }
        let P = g.p, hw = g.h * g.w
        Parallel.chunks(g.c) { lo, hi in
            for c in lo..<hi {
                for n in 0..<g.n { (dx + (n * g.c + c) * hw).initialize(repeating: 0, count: hw) }
                for r in c * g.kh * g.kw..<(c + 1) * g.kh * g.kw {
                    let shift = SameShift(g, row: r), a = shift.a, b = shift.b
                    for n in 0..<g.n {
                        let src = col + r * P + n * hw, out = dx + (n * g.c + c) * hw + shift.offset
                        shift.zeroWrapped(src, width: g.w)
                        var q = a
                        while q + 8 <= b {
                            let s = UnsafeRawPointer(src + q).loadUnaligned(as: SIMD8<Float>.self)
                            let d = UnsafeRawPointer(out + q).loadUnaligned(as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(out + q).storeBytes(of: d + s, as: SIMD8<Float>.self)
                            q += 8
                        }
                        while q < b { out[q] += src[q]; q += 1 }
                    }
                }
            }
        }
    }

    /// Sums the columns `col` (K × P) back into `dx` (NCHW), which it overwrites.
    public static func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, into dx: UnsafeMutablePointer<Float>) {
        let P = g.p, hw = g.h * g.w, plane = g.ho * g.wo
        Parallel.chunks(g.c) { lo, hi in
            for c in lo..<hi {
                for n in 0..<g.n { (dx + (n * g.c + c) * hw).initialize(repeating: 0, count: hw) }
                for u in 0..<g.kh {
                    for v in 0..<g.kw {
                        let r = (c * g.kh + u) * g.kw + v
                        let (j0, j1) = g.validRange(offset: v, size: g.w, outSize: g.wo)
                        guard j1 > j0 else { continue }
                        let row = col + r * P
                        for n in 0..<g.n {
                            let dst = dx + (n * g.c + c) * hw
                            for i in 0..<g.ho {
                                let hIn = i * g.stride + u - g.padding
                                if hIn < 0 || hIn >= g.h { continue }
                                let s = row + n * plane + i * g.wo
                                let d = dst + hIn * g.w + v - g.padding
                                var j = j0
                                if g.stride == 1 {
                                    // Contiguous on both sides: eight lanes at a time.
                                    while j + 8 <= j1 {
                                        let a = UnsafeRawPointer(d + j).loadUnaligned(as: SIMD8<Float>.self)
                                        let b = UnsafeRawPointer(s + j).loadUnaligned(as: SIMD8<Float>.self)
                                        UnsafeMutableRawPointer(d + j).storeBytes(of: a + b, as: SIMD8<Float>.self)
                                        j += 8
                                    }
                                }
                                while j < j1 { d[j * g.stride] += s[j]; j += 1 }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `src` laid out [T, N, plane] → `dst` laid out [N, T, plane].
    public static func columnsToNCHW(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, n: Int, t: Int, plane: Int) {
        Parallel.chunks(n) { lo, hi in
            for b in lo..<hi {
                for c in 0..<t {
                    (dst + (b * t + c) * plane).update(from: src + (c * n + b) * plane, count: plane)
                }
            }
        }
    }

    /// `src` laid out [N, T, plane] → `dst` laid out [T, N, plane].
    public static func nchwToColumns(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, n: Int, t: Int, plane: Int) {
        Parallel.chunks(n) { lo, hi in
            for b in lo..<hi {
                for c in 0..<t {
                    (dst + (c * n + b) * plane).update(from: src + (b * t + c) * plane, count: plane)
                }
            }
        }
    }
}
