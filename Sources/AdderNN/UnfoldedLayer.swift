import AdderCore

/// What an unfolded layer computes on columns: the filters (T × K) against the unfolded
/// input (K × P). `Adder2d` and `Conv2d` each supply one; a new unfolded layer is a new
/// conformance, and the compiler lists what it must provide.
public protocol ColumnKernels: AnyObject {
    /// "Adder2d", "Conv2d": the layer's name in statistics and tables.
    var typeName: String { get }
    /// ycol (T × P) from the filters w (T × K) and the columns x (K × P).
    func forward(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int)
    /// dw (T × K) from the output gradient g (T × P).
    func filterGradient(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                        dw: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int)
    /// dx columns (K × P) from the output gradient g (T × P).
    func inputGradient(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                       dx: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int)
    /// Operations per image from the number of window products (pairs or MACs).
    func operations(windowProducts: Int) -> OperationCount
    /// The step-profile parts the three kernels' time goes to (`adderlab bench train --breakdown`).
    var profileParts: (forward: StepProfile.Part, filterGradient: StepProfile.Part, inputGradient: StepProfile.Part) { get }
}

/// The shared body of `Adder2d` and `Conv2d`: both unfold the input into columns
/// (K × P), combine the filters (T × K) with them through their `ColumnKernels`, and
/// fold gradients back. This class owns the shapes, the blocking, the bias, the saved
/// input and the output statistics.
public class UnfoldedLayer: Layer, OutputStatistics {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    public private(set) var outputMean: Double = 0
    public private(set) var outputStd: Double = 0
    public var recordsOutputStatistics = true
    public var keepsOutput = false
    public var keptOutput: Tensor?
    public var typeName: String { kernels.typeName }
    /// When false (the network's first layer: its input is the data), `backward` skips
    /// ∂L/∂X — the input-gradient kernel and col2im — and returns an empty tensor.
    public var computesInputGradient = true

    let kernels: any ColumnKernels
    private let window: Window
    private var savedInput: Tensor?

    init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int, bias: Bool,
         weight: Tensor, role: ParameterRole, columns: any ColumnKernels) {
        inChannels = inputChannels; outChannels = outputChannels
        kernel = kernelSize; self.stride = stride; self.padding = padding
        kernels = columns
        window = Window(channels: inputChannels, kernel: kernelSize, stride: stride, padding: padding)
        self.weight = Parameter(weight, role: role)
        self.bias = bias ? Parameter(Tensor(shape: [outputChannels]), role: .bias) : nil
    }

    /// Operations per image: the kernels count pairs or multiply-accumulates.
    public func operations(input: [Int]) -> OperationCount { kernels.operations(windowProducts: windowProducts(input: input)) }

    /// Number of window positions per image times the window size: the pairs or MACs.
    func windowProducts(input: [Int]) -> Int {
        guard let out = try? outputShape(for: input) else { return 0 }
        return out.reduce(1, *) * inChannels * kernel * kernel
    }

    private var label: String { "\(typeName)(\(inChannels)→\(outChannels), k\(kernel) s\(stride) p\(padding))" }

    public var localParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func outputShape(for input: [Int]) throws(TensorError) -> [Int] {
        try window.outputShape(for: input, outChannels: outChannels, layer: label)
    }

    /// Images per block: about 512 columns for the kernels' strips and chunks and for
    /// OpenBLAS's reduction in the filter gradient, and at least two blocks per thread
    /// when the batch allows. (Capping a block at 256 KiB of columns instead, one 8×8
    /// image at K = 576, made 8× more per-block filter gradients to transpose and sum:
    /// 4% of a ResNet-20 CNN step, and short GEMMs.)
    func imagesPerBlock(_ g: ConvGeometry) -> Int {
        Swift.max(1, Swift.min(512 / Swift.max(g.ho * g.wo, 1), g.n / (2 * Parallel.threads)))
    }

    /// The batch is cut into blocks of whole images, spread over the cores; each block
    /// is unfolded, combined and folded on its own thread into scratch memory that
    /// stays in cache, instead of unfolding the whole batch into one K × N·Ho·Wo matrix
    /// (75 MB for a ResNet-20 layer at batch 128) that every pass streams from memory.
    /// Blocks write disjoint images; per-block filter gradients are summed in block
    /// order. Block sizes follow the thread count, so, as everywhere, a result depends
    /// only on the thread count.
    private func forEachBlock(_ g: ConvGeometry, scratch: Int, _ body: (_ block: Int, _ n0: Int, _ part: ConvGeometry,
                                                                         _ scratch: UnsafeMutablePointer<Float>) -> Void) {
        let per = imagesPerBlock(g), blocks = (g.n + per - 1) / per
        let columns = per * g.ho * g.wo
        Parallel.chunks(blocks) { lo, hi in
            let buffer = Scratch.floats(scratch * columns)
            for block in lo..<hi {
                let n0 = block * per
                body(block, n0, g.batch(Swift.min(per, g.n - n0)), buffer)
            }
        }
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let g = window.geometry(for: x.shape, layer: label)
        let T = outChannels, K = g.k, plane = g.ho * g.wo, image = g.c * g.h * g.w
        let columns = imagesPerBlock(g) * plane
        var out = [Tensor(uninitializedShape: [g.n, T, g.ho, g.wo])]
        let kernelPart = kernels.profileParts.forward
        Tensor.withPointers([weight.value, x], &out) { input, output in
            let (w, xp, yp) = (input[0], input[1], output[0])
            StepProfile.region {
                forEachBlock(g, scratch: K + T) { _, n0, part, scratch in
                    let cols = scratch, out = yp + n0 * T * plane
                    StepProfile.measure(.unfold) { Unfold.im2col(xp + n0 * image, part, into: cols) }
                    // One image's T × plane columns are already its NCHW slice.
                    let ycol = part.n == 1 ? out : scratch + K * columns
                    StepProfile.measure(kernelPart) { kernels.forward(w: w, x: cols, y: ycol, t: T, k: K, p: part.p) }
                    if part.n > 1 { StepProfile.measure(.unfold) { Unfold.columnsToNCHW(ycol, into: out, n: part.n, t: T, plane: plane) } }
                }
            }
        }
        var y = out.removeLast()   // moved out: the bias is added in place, not on a copy
        if let bias { StepProfile.measure(.elementwise) { addChannelBias(&y, bias.value) } }
        if training {
            savedInput = x
            if recordsOutputStatistics { (outputMean, outputStd) = y.meanAndStd() }
            if keepsOutput { keptOutput = y }
        }
        return y
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let x = savedInput else { preconditionFailure("\(label).backward called without a training forward pass") }
        let g = window.geometry(for: x.shape, layer: label)
        let T = outChannels, K = g.k, plane = g.ho * g.wo, image = g.c * g.h * g.w
        gradOutput.checkShape([g.n, T, g.ho, g.wo], "\(label).backward output gradient")
        if let bias { StepProfile.measure(.elementwise) { channelSums(gradOutput, into: &bias.grad) } }
        let per = imagesPerBlock(g), blocks = (g.n + per - 1) / per, columns = per * plane
        // One filter gradient per block, summed afterwards in block order.
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: blocks * T * K)
        defer { partials.deallocate() }
        let inputGradient = computesInputGradient
        var out = [Tensor(uninitializedShape: inputGradient ? x.shape : [0])]   // [0]: ∂L/∂X not wanted
        let parts = kernels.profileParts
        Tensor.withPointers([weight.value, x, gradOutput], &out) { input, output in
            let (w, xp, gp, dxp) = (input[0], input[1], input[2], output[0])
            StepProfile.region {
                forEachBlock(g, scratch: T + K + (inputGradient ? K : 0)) { block, n0, part, scratch in
                    let cols = scratch + T * columns, dcol = cols + K * columns
                    var gcol = UnsafePointer(scratch)
                    if part.n == 1 { gcol = gp + n0 * T * plane } else {
                        StepProfile.measure(.unfold) { Unfold.nchwToColumns(gp + n0 * T * plane, into: scratch, n: part.n, t: T, plane: plane) }
                    }
                    StepProfile.measure(.unfold) { Unfold.im2col(xp + n0 * image, part, into: cols) }
                    StepProfile.measure(parts.filterGradient) {
                        kernels.filterGradient(w: w, x: cols, g: gcol, dw: partials + block * T * K, t: T, k: K, p: part.p)
                    }
                    guard inputGradient else { return }
                    StepProfile.measure(parts.inputGradient) { kernels.inputGradient(w: w, x: cols, g: gcol, dx: dcol, t: T, k: K, p: part.p) }
                    StepProfile.measure(.unfold) { Unfold.col2im(scratch: dcol, part, into: dxp + n0 * image) }
                }
            }
        }
        let dx = out.removeLast()
        StepProfile.measure(parts.filterGradient) { sumPartials(partials, blocks: blocks, t: T, k: K) }
        savedInput = nil
        return dx
    }

    /// weight.grad = the per-block filter gradients summed in block order.
    private func sumPartials(_ partials: UnsafeMutablePointer<Float>, blocks: Int, t T: Int, k K: Int) {
        weight.grad.withUnsafeMutableBufferPointer { dw in
            let TK = T * K
            Parallel.chunks(TK, minChunk: 4096) { lo, hi in
                // Block by block over contiguous rows (vectorizes), in block order.
                for i in lo..<hi { dw[i] = partials[i] }
                for block in 1..<Swift.max(blocks, 1) {
                    let part = partials + block * TK
                    for i in lo..<hi { dw[i] += part[i] }
                }
            }
        }
    }
}

/// y[n,c,…] += b[c].
func addChannelBias(_ y: inout Tensor, _ b: Tensor) {
    let n = y.shape[0], c = y.shape[1], plane = y.count / max(n * c, 1)
    b.withUnsafeBufferPointer { bb in
        y.withUnsafeMutableBufferPointer { yb in
            for i in 0..<n { for ch in 0..<c { let o = (i * c + ch) * plane; for j in 0..<plane { yb[o + j] += bb[ch] } } }
        }
    }
}

/// out[c] = Σ_{n,…} g[n,c,…].
func channelSums(_ g: Tensor, into out: inout Tensor) {
    let n = g.shape[0], c = g.shape[1], plane = g.count / max(n * c, 1)
    g.withUnsafeBufferPointer { gb in
        out.withUnsafeMutableBufferPointer { ob in
            for ch in 0..<c {
                var s: Float = 0
                for i in 0..<n { let o = (i * c + ch) * plane; for j in 0..<plane { s += gb[o + j] } }
                ob[ch] = s
            }
        }
    }
}
