import AdderCore

/// A multiplicative convolution (cross-correlation, as in PyTorch) via im2col,
/// OpenBLAS for Y = W·X and dW = G·Xᵀ, and `MACKernels` for dX = Wᵀ·G. Weights start
/// Kaiming-normal (fan-out, ReLU gain), as in torchvision's and the AdderNet code's ResNets.
public final class Conv2d: UnfoldedLayer {
    /// The multiply-accumulate kernels on columns.
    final class Columns: ColumnKernels {
        var typeName: String { "Conv2d" }

        func forward(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
            BLAS.sgemm(m: t, n: p, k: k, a: w, lda: k, b: x, ldb: p, c: y, ldc: p)
        }

        func filterGradient(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                            dw: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
            BLAS.productWithTranspose(g, m: t, x, n: k, length: p, into: dw)   // dW = G·Xᵀ
        }

        func inputGradient(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                           dx: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
            MACKernels.inputGradient(w: w, g: g, dx: dx, t: t, k: k, p: p)   // dX = Wᵀ·G, faster than sgemm here
        }

        var profileParts: (forward: StepProfile.Part, filterGradient: StepProfile.Part, inputGradient: StepProfile.Part) { (.gemm, .gemm, .gemm) }

        /// One multiplication and one addition per multiply-accumulate.
        func operations(windowProducts: Int) -> OperationCount {
            OperationCount(multiplications: windowProducts, additions: windowProducts)
        }
    }

    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
                generator: inout SeededGenerator) {
        let std = (2.0 / Float(outputChannels * kernelSize * kernelSize)).squareRoot()
        super.init(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride, padding: padding,
                   bias: bias, weight: .normal(shape: [outputChannels, inputChannels, kernelSize, kernelSize], std: std, generator: &generator),
                   role: .weight, columns: Columns())
    }
}
