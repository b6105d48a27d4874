import AdderCore

/// A multiplicative convolution (cross-correlation, as in PyTorch) via im2col,
/// OpenBLAS for Y = W·X and dW = G·Xᵀ, and `MACKernels` for dX = Wᵀ·G. Weights start Kaiming-normal (fan-out, ReLU gain), as in
/// torchvision's and the AdderNet code's ResNets.
public final class Conv2d: UnfoldedLayer {
    override public var typeName: String { "Conv2d" }

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
                generator: inout SeededGenerator) {
        let std = (2.0 / Float(outChannels * kernel * kernel)).squareRoot()
        super.init(inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, bias: bias,
                   weight: .normal(shape: [outChannels, inChannels, kernel, kernel], std: std, generator: &generator),
                   role: .weight)
    }

    /// One multiplication and one addition per multiply-accumulate.
    override public func operations(input: [Int]) -> OperationCount {
        let macs = windowProducts(input: input)
        return OperationCount(multiplications: macs, additions: macs)
    }

    override func forwardColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        BLAS.sgemm(m: t, n: p, k: k, a: w, lda: k, b: x, ldb: p, c: y, ldc: p)
    }

    override func filterGradientColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                        dw: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        BLAS.productWithTranspose(g, m: t, x, n: k, length: p, into: dw)   // dW = G·Xᵀ
    }

    override func inputGradientColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                       dx: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        MACKernels.inputGradient(w: w, g: g, dx: dx, t: t, k: k, p: p)   // dX = Wᵀ·G, faster than sgemm here
    }
}
