import AdderCore

/// The adder layer: Y[n,t,i,j] = −Σ_{c,u,v} |X̃[n,c,i·s+u,j·s+v] − F[t,c,u,v]| (+ bias).
///
/// The gradient rules are plain properties, so they can be flipped between any two
/// steps: `filterRule` (`.fullPrecision`, the paper's X̃ − F, or `.sign`) and
/// `inputRule` (`.hardTanh`, the paper's clamp(F − X̃, −1, 1), `.sign`, or
/// `.identity`). See DESIGN.md §1.
public final class Adder2d: UnfoldedLayer {
    public var filterRule: AdderKernels.FilterRule
    public var inputRule: AdderKernels.InputRule

    /// Both rules as one value.
    public var rules: GradientRules {
        get { GradientRules(filter: filterRule, input: inputRule) }
        set { filterRule = newValue.filter; inputRule = newValue.input }
    }
    override public var typeName: String { "Adder2d" }

    /// Filters start as N(0, 1), as in the paper's code.
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
                filterRule: AdderKernels.FilterRule = .fullPrecision, inputRule: AdderKernels.InputRule = .hardTanh,
                generator: inout SeededGenerator) {
        self.filterRule = filterRule
        self.inputRule = inputRule
        super.init(inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, bias: bias,
                   weight: .normal(shape: [outChannels, inChannels, kernel, kernel], generator: &generator),
                   role: .adderFilter)
    }

    /// Each output is kh·kw·C pairs; a pair is a subtraction and an accumulation.
    override public func operations(input: [Int]) -> OperationCount {
        OperationCount(multiplications: 0, additions: 2 * windowProducts(input: input))
    }

    override func forwardColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        AdderKernels.forward(w: w, x: x, y: y, t: t, k: k, p: p)
    }

    override func filterGradientColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                        dw: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        AdderKernels.filterGradient(rule: filterRule, w: w, x: x, g: g, dw: dw, t: t, k: k, p: p)
    }

    override func inputGradientColumns(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                       dx: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
        AdderKernels.inputGradient(rule: inputRule, w: w, x: x, g: g, dx: dx, t: t, k: k, p: p)
    }
}
