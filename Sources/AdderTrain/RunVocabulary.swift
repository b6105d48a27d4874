import AdderCore
import AdderNN

/// The gradient rules a run trains with, as one value: none (a CNN), one pair for every
/// adder layer, or different pairs per layer. Its label is what metrics.jsonl holds.
public enum GradientMode: Sendable, Hashable, CustomStringConvertible {
    case none
    case rules(GradientRules)
    case mixed

    /// "-", "fullPrecision/hardTanh" or "mixed".
    public var label: String {
        switch self {
        case .none: return "-"
        case .rules(let r): return r.label
        case .mixed: return "mixed"
        }
    }

    /// "fp/ht" style.
    public var shortLabel: String {
        if case .rules(let r) = self { return r.shortLabel }
        return label
    }

    public var description: String { label }

    /// The mode of a set of layers' rules.
    public init<S: Sequence>(layers: S) where S.Element == GradientRules {
        let distinct = Set(layers)
        if distinct.isEmpty { self = .none } else if distinct.count == 1 { self = .rules(distinct.first!) } else { self = .mixed }
    }

    /// Parses a label; nil for anything else.
    public init?(label: String) {
        switch label {
        case "-": self = .none
        case "mixed": self = .mixed
        default:
            guard let r = GradientRules(label: label) else { return nil }
            self = .rules(r)
        }
    }
}

/// What an event record of metrics.jsonl reports.
public enum EventKind: String, Sendable, CaseIterable, Codable {
    /// A change of the run's state; the detail is the state, then ": " and a message.
    case state
    /// New gradient rules; the detail is their label, then " (layer)" when one layer changed.
    case gradientMode
    /// A new η of the adaptive learning rate; the detail is the value.
    case eta
    case pause, resume
    /// A resume; the detail says from which checkpoint.
    case resumedFromCheckpoint
}

/// Which layers are adder layers: the `adders` key of an experiment.
public enum Adders: String, Sendable, CaseIterable, Codable {
    /// None: the CNN baseline.
    case cnn
    /// The paper's: every convolution but the first; fully connected layers stay multiplicative.
    case paper
    /// Every convolution, the first included; fully connected layers stay multiplicative.
    case all
    /// Every layer with a weight.
    case full

    public var placement: AdderPlacement {
        switch self {
        case .cnn: return .cnn
        case .paper: return .paper
        case .all: return .allConvolutions
        case .full: return AdderPlacement(hidden: true, firstConvolution: true, classifier: true)
        }
    }
}

/// The shape of the learning-rate schedule: the `schedule.type` key.
public enum ScheduleKind: String, Sendable, CaseIterable, Codable {
    case cosine, step, constant
}
