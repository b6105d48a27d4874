import AdderTrain
import Foundation

/// A per-layer quantity the layer view charts over training.
public enum LayerQuantity: String, Sendable, CaseIterable {
    case gradientNorm = "‖∂L/∂F‖"
    case alpha = "α (adaptive learning rate)"
    case weightNorm = "‖F‖"
    case outputStd = "output std"
    case batchNormGap = "BN running-vs-batch mean gap (σ)"
    case batchNormVarianceGap = "BN running-vs-batch |ln variance ratio|"

    /// Recorded per batch-norm layer at each evaluation (not per layer record).
    var isBatchNorm: Bool { self == .batchNormGap || self == .batchNormVarianceGap }

    public var next: LayerQuantity {
        let all = LayerQuantity.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }

    /// Log y by default where values span decades.
    public var logByDefault: Bool { self == .gradientNorm || self == .alpha }

    /// The quantity's points for one layer of a run (BN gaps come with the evaluations).
    func points(_ s: RunSnapshot, layer: String, x: (Int) -> Double) -> [(x: Double, y: Double)] {
        if isBatchNorm {
            return s.evals.compactMap { e in e.drift.first { $0.name == layer }.map { (x(e.step), self == .batchNormGap ? $0.meanGap : $0.logVarianceRatio) } }
        }
        return s.layers.compactMap { r in
            r.layers.first { $0.name == layer }.map { l in
                let v: Double
                switch self {
                case .gradientNorm: v = l.gradNorm
                case .alpha: v = l.gradientRules != nil ? l.alpha : .nan   // α acts on adder layers only
                case .weightNorm: v = l.weightNorm
                case .outputStd: v = l.outputStd
                case .batchNormGap, .batchNormVarianceGap: v = .nan
                }
                return (x(r.step), v)
            }
        }
    }

    /// The layers a run has this quantity for, in the model's order.
    public func layers(_ s: RunSnapshot) -> [String] {
        if isBatchNorm { return s.evals.last?.drift.map(\.name) ?? [] }
        let all = s.layers.last?.layers ?? []
        return (self == .alpha ? all.filter { $0.gradientRules != nil } : all).map(\.name)
    }
}

/// What the layer view shows: which quantity, and every layer of the focused run or one
/// layer across the compared runs and groups.
public struct LayerViewSettings: Sendable, Equatable {
    public var quantity = LayerQuantity.gradientNorm
    /// One layer across the compared runs and groups (else every layer of the focused run).
    public var acrossRuns = false
    /// The layer shown across runs (nil: the first the runs have).
    public var layer: String?
    public init() {}
}

/// The layer view: a full-size braille chart of one per-layer quantity over training,
/// either one line per layer of the focused run, or one layer of each compared run and
/// group (a group as its mean with its band) — conv2's ‖∂L/∂F‖ and α under fp and sign
/// side by side, the paper's argument.
struct LayerHistoryPanel: Widget {
    let state: DashboardState
    let settings: LayerViewSettings
    let glyphs: Glyphs

    /// The layers to choose from: those of the first run shown.
    static func layers(_ state: DashboardState, _ settings: LayerViewSettings) -> [String] {
        guard let first = state.chartItems.first?.entries.first ?? state.focused else { return [] }
        return settings.quantity.layers(first.snapshot)
    }

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        let q = settings.quantity
        let logY = q.logByDefault != state.logScale
        func x(_ e: RunEntry) -> (Int) -> Double {
            let map = XMapper(state.xAxis, e.snapshot, needsStepTimes: true)
            return { step in map.x(step: step, time: nil) }
        }
        let glyphSet = g.unicode ? LineChart.glyphsUnicode : LineChart.glyphsASCII
        let palette = state.color256 ? TermColor.series256 : TermColor.series8
        var series: [LineChart.Series] = []
        var title: String
        if settings.acrossRuns {
            let names = LayerHistoryPanel.layers(state, settings)
            let layer = settings.layer.flatMap { names.contains($0) ? $0 : nil } ?? names.first ?? "-"
            title = "\(layer) \(q.rawValue) across the compared runs"
            for (i, item) in state.chartItems.enumerated() {
                let curves = item.entries.map { q.points($0.snapshot, layer: layer, x: x($0)) }
                series.append(item.series(curves, name: item.label, glyph: glyphSet[i % glyphSet.count]))
            }
        } else {
            let entry = state.focused ?? state.focusedGroup?.entries.first
            title = "\(q.rawValue) per layer of \(entry?.snapshot.config.name ?? "-")"
            if let e = entry {
                for (i, layer) in q.layers(e.snapshot).enumerated() {
                    series.append(LineChart.Series(name: layer, color: palette[i % palette.count],
                                                   points: q.points(e.snapshot, layer: layer, x: x(e)), glyph: glyphSet[i % glyphSet.count]))
                }
            }
        }
        let dot = g.unicode ? "·" : "|"
        Box.draw(&grid, r, title: g.text("Layers over training \(dot) v quantity \(dot) m \(settings.acrossRuns ? "every layer" : "one layer across runs")"
                                         + (settings.acrossRuns ? " \(dot) ← → layer" : "") + " \(dot) L closes"), glyphs: g)
        var chart = LineChart(title: g.text(title + (logY ? " (log)" : "")), series: series)
        chart.logY = logY
        chart.cursor = state.cursor
        chart.xLabel = state.xAxis.label
        chart.glyphs = g
        chart.color = state.color
        chart.render(into: &grid, area: r.inset(1))
    }
}
