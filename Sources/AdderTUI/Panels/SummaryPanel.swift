import AdderTrain
import Foundation

/// The summary table (key T): for the compared groups (or every group shown), what
/// `adderlab compare --markdown` prints — the differing keys, runs finished, final and best
/// test accuracy as mean ± std, the difference of the final accuracy to a baseline group (b),
/// final loss, time per run and img/s — in the runs panel's order (o sorts both).
struct SummaryPanel: Widget {
    let state: DashboardState
    let glyphs: Glyphs

    func render(into grid: inout Grid, area r: Rect) {
        let g = glyphs
        let dot = g.unicode ? "·" : "|"
        let groups = state.summaryGroups
        let baseline = groups.first { $0.id == state.baseline }
        Box.draw(&grid, r, title: g.text("Summary of \(groups.count) group\(groups.count == 1 ? "" : "s") \(dot) b sets the baseline"
                                         + (baseline.map { " (\($0.group.label))" } ?? "") + " \(dot) o sorts \(dot) T closes"), glyphs: g)
        let inner = r.inset(1)
        guard !groups.isEmpty else {
            grid.put(inner.x + 1, inner.y, "No groups: runs that differ only in their seed form one (t shows the grouped list).", Style(dim: true), maxWidth: inner.width - 1)
            return
        }
        let pm = g.unicode ? "±" : "+-"
        func spread(_ m: MeanStd?) -> String { m?.text(percent: true, plusMinus: pm) ?? "-" }
        let keys = state.rowModel.grouping.groupingKeys
        // A key's column: its last name as header, as wide as its widest value (at most 16).
        let keyColumns = keys.enumerated().map { i, k -> (String, Int) in
            let header = String(k.split(separator: ".").last ?? Substring(k))
            return (header, min(16, max(header.count, groups.map { $0.group.key[i].count }.max() ?? 0)))
        }
        var columns: [(String, Int)] = [("group", max(12, groups.map { g.text($0.group.label).count }.max() ?? 12))] + keyColumns
        columns += [("runs", -5), ("final test acc", -16), ("Δ final", -8), ("best test acc", -16), ("final loss", -16), ("time/run", -8), ("img/s", -6),
                    (g.micro + "J/img", -7), ("J/run", -7)]
        let rows: [[String]] = groups.map { gr in
            let grp = gr.group
            // Energy: per image inferred, and the mean training energy of a run so far.
            let energy = RunEnergy.of(gr.entries[0].snapshot.config)
            let trained = gr.entries.map { energy.trainingJoules(images: $0.snapshot.imagesTrained) }.reduce(0, +) / Double(max(gr.entries.count, 1))
            let finished = gr.entries.filter { $0.snapshot.state == .finished }.count
            let delta: String
            if let base = baseline?.group.finalAccuracy, let mine = grp.finalAccuracy {
                delta = baseline?.id == gr.id ? "base" : String(format: "%+.2f", (mine.mean - base.mean) * 100)
            } else {
                delta = "-"
            }
            return [g.text(grp.label)] + grp.key.map { g.text($0) } + ["\(finished)/\(gr.entries.count)", spread(grp.finalAccuracy), delta, spread(grp.bestAccuracy),
                                                               grp.finalLoss?.text(percent: false, plusMinus: pm) ?? "-",
                                                               String(format: "%.0f s", grp.meanSeconds),
                                                               grp.imagesPerSecond > 0 ? String(format: "%.0f", grp.imagesPerSecond) : "-",
                                                               RunEnergy.text(microjoules: energy.inferenceMicrojoules),
                                                               String(format: "%.3g", trained)]
        }
        let styles = groups.map { gr in Style(state.color ? state.color(for: gr.id) : nil, bold: gr.id == state.baseline) }
        Table(columns: columns, rows: rows, styles: styles, glyphs: g).render(into: &grid, area: inner)
    }
}

extension DashboardState {
    /// The groups the summary table lists, in row order: the compared ones, or every group shown.
    public var summaryGroups: [GroupRow] {
        let shown = rows.compactMap { row -> GroupRow? in if case .group(let g) = row { return g } else { return nil } }
        let chosen = shown.filter { compared.contains($0.id) }
        return chosen.isEmpty ? shown : chosen
    }
}
