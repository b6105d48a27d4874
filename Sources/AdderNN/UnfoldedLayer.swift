import AdderCore

/// The shared body of `Adder2d` and `Conv2d`: both unfold the input into columns
/// (K × P), combine the filters (T × K) with them, and fold gradients back. The
/// subclasses supply the three column kernels; this class owns the shapes, the
/// workspace traffic, the bias, the saved input and the output statistics.
public class UnfoldedLayer: Layer, OutputStatistics {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    public private(set) var outputMean: Double = 0
    public private(set) var outputStd: Double = 0
    public var recordsOutputStatistics = true
    public var typeName: String { preconditionFailure("subclass responsibility") }
    /// When false (the network's first layer: its input is the data), `backward` skips
    /// ∂L/∂X — the input-gradient kernel and col2im — and returns an empty tensor.
    public var computesInputGradient = true

    let workspace: Workspace
    private let window: Window
    private var savedInput: Tensor?

    init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, padding: Int, bias: Bool,
         weight: Tensor, role: ParameterRole, workspace: Workspace) {
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding
        self.workspace = workspace
        window = Window(channels: inChannels, kernel: kernel, stride: stride, padding: padding)
        self.weight = Parameter(weight, role: role)
        self.bias = bias ? Parameter(Tensor(shape: [outChannels]), role: .bias) : nil
    }

    /// ycol (T × P) from the filters w (T × K) and the columns x (K × P).
    func forwardColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        preconditionFailure("subclass responsibility")
    }

    /// dw (T × K) from the output gradient g (T × P).
    func filterGradientColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                               dw: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        preconditionFailure("subclass responsibility")
    }

    /// dx columns (K × P) from the output gradient g (T × P).
    func inputGradientColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                              dx: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        preconditionFailure("subclass responsibility")
    }

    /// Operations per image; the subclasses count pairs or multiply-accumulates.
    public func operations(input: [Int]) -> OperationCount { preconditionFailure("subclass responsibility") }

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

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let g = window.geometry(for: x.shape, layer: label)
        let T = outChannels, K = g.k, P = g.p
        let cols = workspace.buffer(.columns, count: K * P)
        let ycol = workspace.buffer(.output, count: T * P)
        x.withUnsafeBufferPointer { Unfold.im2col($0.baseAddress!, g, into: cols) }
        weight.value.withUnsafeBufferPointer { forwardColumns(w: $0.baseAddress!, x: cols, y: ycol, t: T, k: K, p: P) }
        var y = Tensor(uninitializedShape: [g.n, T, g.ho, g.wo])
        y.withUnsafeMutableBufferPointer { Unfold.columnsToNCHW(ycol, into: $0.baseAddress!, n: g.n, t: T, plane: g.ho * g.wo) }
        if let bias { addChannelBias(&y, bias.value) }
        if training {
            savedInput = x
            if recordsOutputStatistics { (outputMean, outputStd) = y.meanAndStd() }
        }
        return y
    }

    public func backward(_ gradOutput: Tensor) -> Tensor {
        guard let x = savedInput else { preconditionFailure("\(label).backward called without a training forward pass") }
        let g = window.geometry(for: x.shape, layer: label)
        let T = outChannels, K = g.k, P = g.p
        gradOutput.checkShape([g.n, T, g.ho, g.wo], "\(label).backward output gradient")
        let gcol = workspace.buffer(.columnGradient, count: T * P)
        gradOutput.withUnsafeBufferPointer { Unfold.nchwToColumns($0.baseAddress!, into: gcol, n: g.n, t: T, plane: g.ho * g.wo) }
        if let bias { channelSums(gradOutput, into: &bias.grad) }
        // The columns are rebuilt rather than kept: the workspace is shared by all layers.
        let cols = workspace.buffer(.columns, count: K * P)
        x.withUnsafeBufferPointer { Unfold.im2col($0.baseAddress!, g, into: cols) }
        weight.value.withUnsafeBufferPointer { wb in
            weight.grad.withUnsafeMutableBufferPointer { dw in
                filterGradientColumns(w: wb.baseAddress!, x: cols, g: gcol, dw: dw.baseAddress!, t: T, k: K, p: P)
            }
        }
        guard computesInputGradient else { savedInput = nil; return Tensor(shape: [0]) }
        let dcol = workspace.buffer(.output, count: K * P)
        weight.value.withUnsafeBufferPointer { wb in
            inputGradientColumns(w: wb.baseAddress!, x: cols, g: gcol, dx: dcol, t: T, k: K, p: P)
        }
        var dx = Tensor(uninitializedShape: x.shape)
        dx.withUnsafeMutableBufferPointer { Unfold.col2im(dcol, g, into: $0.baseAddress!) }
        savedInput = nil
        return dx
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
