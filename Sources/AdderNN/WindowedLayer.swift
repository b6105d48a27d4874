import AdderCore

/// Shape checks shared by the layers that slide a kh×kw window over an NCHW input
/// (adder, convolution, pooling).
struct Window: Sendable, Equatable {
    let channels: Int?  // required input channels, nil for any
    let kernel: Int
    let stride: Int
    let padding: Int

    /// The geometry for a batch, stopping with both shapes named on a mismatch.
    func geometry(for shape: [Int], layer: String) -> ConvGeometry {
        do { return try geometryOrThrow(for: shape, layer: layer) } catch { preconditionFailure(error.description) }
    }

    func geometryOrThrow(for shape: [Int], layer: String) throws(TensorError) -> ConvGeometry {
        guard shape.count == 4, channels == nil || shape[1] == channels! else {
            throw .shapeMismatch(expected: [shape.first ?? -1, channels ?? -1, -1, -1], got: shape,
                                 context: "\(layer) expects an N×\(channels.map(String.init) ?? "C")×H×W input")
        }
        return try ConvGeometry(n: shape[0], c: shape[1], h: shape[2], w: shape[3],
                                kh: kernel, kw: kernel, stride: stride, padding: padding)
    }

    /// Per-sample output shape [outChannels, Ho, Wo] for a per-sample input [C, H, W].
    func outputShape(for input: [Int], outChannels: Int?, layer: String) throws(TensorError) -> [Int] {
        let g = try geometryOrThrow(for: [1] + input, layer: layer)
        return [outChannels ?? g.c, g.ho, g.wo]
    }
}
