import AdderTrain
import Foundation

/// The focused run's layers: gradient norm, weight norm, α, output spread with sparklines,
/// a heat strip of gradient norms when wide, and the batch-norm line.
struct LayersPanel: Widget {
    let state: DashboardState
    let glyphs: Glyphs

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        guard r.height >= 3 else { return }
        // On a group row: its first run's layers, saying so.
        let group = state.focusedGroup
        guard let e = state.focused ?? group?.entries.first else { Box.draw(&grid, r, title: "Layers", glyphs: g); return }
        let s = e.snapshot
        let of = group.map { " (1 of \($0.entries.count) in \($0.group.label))" } ?? ""
        let dot = g.unicode ? "·" : "|"
        // η only where it acts: the adaptive rate of an AdderNet.
        let eta = !s.config.placement.isCNN && s.config.strategy == .adaptive ? " \(dot) \(g.eta)=\(String(format: "%g", s.eta))" : ""
        Box.draw(&grid, r, title: g.text("Layers of \(s.config.name)\(of)") + eta + " \(dot) mode \(s.gradientMode.shortLabel)", glyphs: g)
        let inner = r.inset(1)
        guard let last = s.layers.last else {
            grid.put(inner.x + 1, inner.y, "no layer statistics yet", Style(dim: true), maxWidth: inner.width)
            return
        }
        let history = s.layers.suffix(400)
        func series(_ name: String, _ f: @escaping (LayerRecord.Layer) -> Double) -> [Double] {
            history.compactMap { rec in rec.layers.first { $0.name == name }.map(f) }
        }
        // Table on the left, heat strip of gradient norms on the right when wide enough.
        let stripWidth = inner.width >= 120 ? min(60, inner.width / 3) : 0
        let tableWidth = inner.width - (stripWidth > 0 ? stripWidth + 2 : 0)
        let spark = tableWidth >= 110 ? 16 : (tableWidth >= 90 ? 10 : 0)
        var cols: [(String, Int)] = [("layer", 16), ("type", 7), ("mode", 9), ("grad ‖g‖", -9)]
        if spark > 0 { cols.append(("", spark)) }
        cols += [("‖w‖", -8), (g.alpha, -9)]
        if spark > 0 { cols.append(("", spark)) }
        cols.append(("out std", -8))
        if !g.unicode { cols = cols.map { ($0.0.replacingOccurrences(of: "‖", with: "|"), $0.1) } }
        // Each number column in one notation over its rows; α acts on adder layers only.
        let adders = last.layers.filter { $0.gradientRules != nil }
        let gradNorms = Widgets.numberColumn(last.layers.map(\.gradNorm), width: 9)
        let weightNorms = Widgets.numberColumn(last.layers.map(\.weightNorm), width: 8)
        let alphas = Widgets.numberColumn(adders.map(\.alpha), width: 9)
        let stds = Widgets.numberColumn(last.layers.map(\.outputStd), width: 8)
        var adderIndex = 0
        let rows: [[String]] = last.layers.enumerated().map { i, l in
            var row = [l.name, l.type.replacingOccurrences(of: "Adder2d", with: "adder").replacingOccurrences(of: "Conv2d", with: "conv"),
                       l.gradientRules?.shortLabel ?? "", gradNorms[i]]
            if spark > 0 { row.append(Widgets.sparkline(series(l.name, { $0.gradNorm }), width: spark, glyphs: g)) }
            let alpha = l.gradientRules != nil ? alphas[adderIndex] : g.dash
            if l.gradientRules != nil { adderIndex += 1 }
            row += [weightNorms[i], alpha]
            if spark > 0 { row.append(l.gradientRules != nil ? Widgets.sparkline(series(l.name, { $0.alpha }), width: spark, glyphs: g) : "") }
            row.append(stds[i])
            return row
        }
        let bnLine: String? = s.evals.last.map { ev in
            let worst = ev.drift.max { $0.meanGap < $1.meanGap }
            return String(format: "BN: test acc %.2f%% with running stats, %.2f%% with batch stats", ev.testAccuracy * 100, ev.testAccuracyBatchStatistics * 100)
                + (worst.map { String(format: "; largest drift %@ (mean gap %.2f%@)", $0.name, $0.meanGap, g.unicode ? "σ" : " sd") } ?? "")
        }
        // Energy (FP32 at 45 nm, as `adderlab models`): per image inferred, per image trained,
        // and the training so far.
        let energy = RunEnergy.of(s.config)
        let energyLine = String(format: "energy: %@ %@J/image inferred (%@ mult, %@ add), %@ %@J/image trained, %@ J so far",
                                RunEnergy.text(microjoules: energy.inferenceMicrojoules), g.micro, RunEnergy.text(count: energy.inference.multiplications),
                                RunEnergy.text(count: energy.inference.additions), RunEnergy.text(microjoules: energy.trainingMicrojoules), g.micro,
                                String(format: "%.3g", energy.trainingJoules(images: s.imagesTrained)))
        // The batch-norm and energy lines give way when a layer row would not fit beside them.
        let driftLine = inner.height >= 4 || rows.count + 1 < inner.height ? bnLine : nil
        let showEnergy = inner.height >= rows.count + 2 + (driftLine == nil ? 0 : 1)
        let tableRows = inner.height - (driftLine == nil ? 0 : 1) - (showEnergy ? 1 : 0)
        // When the layers do not fit, the last line says how many more there are (it never
        // overwrites a cell of a layer's row).
        let hidden = rows.count + 1 > tableRows && tableRows > 1 ? rows.count - (tableRows - 2) : 0
        Table(columns: cols, rows: Array(rows.prefix(hidden > 0 ? tableRows - 2 : rows.count)), glyphs: g)
            .render(into: &grid, area: Rect(x: inner.x, y: inner.y, width: tableWidth, height: hidden > 0 ? tableRows - 1 : tableRows))
        if hidden > 0 {
            grid.put(inner.x, inner.y + tableRows - 1, "+\(hidden) more layer\(hidden == 1 ? "" : "s")", Style(dim: true), maxWidth: tableWidth)
        }
        if let driftLine { grid.put(inner.x, inner.maxY - 1 - (showEnergy ? 1 : 0), driftLine, Style(dim: true), maxWidth: tableWidth) }
        if showEnergy { grid.put(inner.x, inner.maxY - 1, energyLine, Style(dim: true), maxWidth: tableWidth) }
        if stripWidth > 0 {
            let x0 = inner.maxX - stripWidth
            grid.put(x0, inner.y, "grad-norm heat (layer \(g.unicode ? "×" : "x") time)", Style(bold: true), maxWidth: stripWidth)
            let strip = Widgets.heatStrip(rows: last.layers.map { l in series(l.name, { $0.gradNorm }) }, width: stripWidth, glyphs: g)
            for (i, line) in strip.enumerated() where i + 1 < inner.height {
                grid.put(x0, inner.y + 1 + i, line, Style(state.color ? .yellow : nil))
            }
        }
    }

    /// The rows the panel would fill for the focused run: its border, the header, a row per
    /// layer, the batch-norm line and the energy line.
    static func wantedHeight(_ state: DashboardState) -> Int {
        guard let s = (state.focused ?? state.focusedGroup?.entries.first)?.snapshot, let last = s.layers.last else { return 3 }
        return last.layers.count + 4 + (s.evals.isEmpty ? 0 : 1)
    }
}
