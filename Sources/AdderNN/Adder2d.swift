import AdderCore

/// The adder layer: Y[n,t,i,j] = −Σ_{c,u,v} |X̃[n,c,i·s+u,j·s+v] − F[t,c,u,v]| (+ bias).
///
/// The gradient rules are plain properties, so they can be flipped between any two
/// steps: `filterRule` (`.fullPrecision`, the paper's X̃ − F, or `.sign`) and
/// `inputRule` (`.hardTanh`, the paper's clamp(F − X̃, −1, 1), `.sign`, or
/// `.identity`). See DESIGN.md §1.
public final class Adder2d: UnfoldedLayer {
    /// The adder kernels on columns, with the rules in force.
    final class Columns: ColumnKernels {
        var rules: GradientRules
        init(_ rules: GradientRules) { self.rules = rules }

        var typeName: String { "Adder2d" }

        func forward(w: UnsafePointer<Float>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
            AdderKernels.forward(w: w, x: x, y: y, t: t, k: k, p: p)
        }

        func filterGradient(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                            dw: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
            AdderKernels.filterGradient(rule: rules.filter, w: w, x: x, g: g, dw: dw, t: t, k: k, p: p)
        }

        func inputGradient(w: UnsafePointer<Float>, x: UnsafePointer<Float>, g: UnsafePointer<Float>,
                           dx: UnsafeMutablePointer<Float>, t: Int, k: Int, p: Int) {
            AdderKernels.inputGradient(rule: rules.input, w: w, x: x, g: g, dx: dx, t: t, k: k, p: p)
        }

        var profileParts: (forward: StepProfile.Part, filterGradient: StepProfile.Part, inputGradient: StepProfile.Part) {
            (.adderForward, .adderFilterGradient, .adderInputGradient)
        }

        /// Each output is kh·kw·C pairs; a pair is a subtraction and an accumulation.
        func operations(windowProducts: Int) -> OperationCount { OperationCount(multiplications: 0, additions: 2 * windowProducts) }
    }

    private let adderColumns: Columns

    /// Both rules as one value.
    public var rules: GradientRules {
        get { adderColumns.rules }
        set { adderColumns.rules = newValue }
    }
    public var filterRule: AdderKernels.FilterRule {
        get { rules.filter }
        set { rules.filter = newValue }
    }
    public var inputRule: AdderKernels.InputRule {
        get { rules.input }
        set { rules.input = newValue }
    }

    /// Filters start as N(0, 1), as in the paper's code.
    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = false,
                filterRule: AdderKernels.FilterRule = .fullPrecision, inputRule: AdderKernels.InputRule = .hardTanh,
                generator: inout SeededGenerator) {
        adderColumns = Columns(GradientRules(filter: filterRule, input: inputRule))
        super.init(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride, padding: padding,
                   bias: bias, weight: .normal(shape: [outputChannels, inputChannels, kernelSize, kernelSize], generator: &generator),
                   role: .adderFilter, columns: adderColumns)
    }
}
