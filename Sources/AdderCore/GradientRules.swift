/// The pair of gradient rules an adder layer trains with, e.g. full-precision filter
/// gradient with the HardTanh input gradient. Its label, "fullPrecision/hardTanh", is
/// what run files and checkpoints hold.
public struct GradientRules: Sendable, Hashable, Codable, CustomStringConvertible {
    public var filter: AdderKernels.FilterRule
    public var input: AdderKernels.InputRule

    public init(filter: AdderKernels.FilterRule, input: AdderKernels.InputRule) {
        self.filter = filter; self.input = input
    }

    /// The paper's rules, and the plain sign gradient the dashboard flips to.
    public static let paper = GradientRules(filter: .fullPrecision, input: .hardTanh)
    public static let sign = GradientRules(filter: .sign, input: .sign)

    /// "filter/input".
    public var label: String { "\(filter.rawValue)/\(input.rawValue)" }
    public var description: String { label }

    /// Parses a label; nil unless it names two known rules.
    public init?(label: String) {
        guard let slash = label.firstIndex(of: "/"),
              let f = AdderKernels.FilterRule(rawValue: String(label[..<slash])),
              let i = AdderKernels.InputRule(rawValue: String(label[label.index(after: slash)...])) else { return nil }
        self.init(filter: f, input: i)
    }
}

extension GradientRules {
    /// The combinations offered in the launcher, the paper's first.
    public static let choices: [GradientRules] = [
        .paper, .sign, GradientRules(filter: .fullPrecision, input: .sign), GradientRules(filter: .sign, input: .hardTanh),
        GradientRules(filter: .fullPrecision, input: .identity),
    ]

    /// "fp/ht" style, for narrow columns.
    public var shortLabel: String {
        label.replacingOccurrences(of: "fullPrecision", with: "fp").replacingOccurrences(of: "hardTanh", with: "ht")
            .replacingOccurrences(of: "identity", with: "id")
    }
}
