import AdderTrain
import Foundation

/// A framed dialog centred on the screen: a title and lines of text.
struct Dialog: Widget {
    let title: String
    let lines: [String]
    let glyphs: Glyphs

    func render(into grid: inout Grid, area: Rect) {
        let g = glyphs
        let w = min(area.width - 4, max(title.count + 6, (lines.map { $0.unicodeScalars.count }.max() ?? 0) + 4))
        let h = min(area.height - 2, lines.count + 2)
        let r = Rect(x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h)
        grid.fill(r)
        Box.draw(&grid, r, title: title, glyphs: g, highlight: true)
        for (i, l) in lines.prefix(h - 2).enumerated() {
            grid.put(r.x + 2, r.y + 1 + i, g.text(l), .plain, maxWidth: w - 3)
        }
    }
}

/// The keys, as the help overlay lists them.
enum HelpDialog {
    /// At most 20 lines, so that the dialog fits an 80×24 terminal.
    static let lines: [(String, String)] = [
        ("↑ ↓ / Tab", "move the focus between runs and groups"),
        ("Space", "pause / resume the run (a queued run: start it now)"),
        ("g", "flip the gradient mode: fp/ht ⇄ sign/sign"),
        ("e / E", "raise / lower η of the adaptive learning rate (×1.25)"),
        ("x", "stop the run with a checkpoint (a queued run: drop it)"),
        ("R", "resume a stopped, interrupted or failed run"),
        ("[ ] + -", "move a queued run up / down; more / fewer at once"),
        ("c / C", "compare the run or group / every group shown"),
        ("Enter ← →", "show / hide a group's runs; the charts' value cursor"),
        ("t o /", "grouped or flat; next sort; filter (Esc clears)"),
        ("s S l a", "smoothing more / less; log y; x: step, epoch, time"),
        ("p L T b", "SVG export; layer view (v m ← →); summary; baseline"),
        ("n r", "the launcher; re-read the runs directory"),
        ("q", "quit (asks first while runs are training)"),
        ("modes", "fp = full-precision, ht = HardTanh, sign, id = identity"),
        ("markers", "g mode switch, e η change, p pause (in the run's colour)"),
        ("bands", "a group: its mean, and its lowest to highest run"),
        ("state*", "read from disk (trained elsewhere, not controllable)"),
    ]


    static func dialog(_ g: Glyphs) -> Dialog {
        let lines = self.lines.map { k, v in Grid.fit(g.unicode ? k : asciiKey(k), 14, unicode: g.unicode) + " " + (g.unicode ? v : asciiKey(v)) }
        return Dialog(title: "Keys (any key closes this help)", lines: lines, glyphs: g)
    }

    static func asciiKey(_ k: String) -> String {
        k.replacingOccurrences(of: "↑ ↓", with: "Up Down").replacingOccurrences(of: "⇄", with: "<->")
            .replacingOccurrences(of: "η", with: "eta").replacingOccurrences(of: "×", with: "x")
    }
}

/// The launcher form: the experiment, its common fields, errors, the key hints.
struct LauncherDialog: Widget {
    let form: LauncherForm
    let state: DashboardState
    let glyphs: Glyphs

    func render(into grid: inout Grid, area: Rect) {
        let g = glyphs
        var lines: [(String, Style)] = []
        let exp = form.experiments.indices.contains(form.selected) ? form.experiments[form.selected] : nil
        let expText = exp.map { "\($0.name)  (\(form.selected + 1)/\(form.experiments.count))" } ?? "no experiments in experiments/"
        lines.append(((form.row == 0 ? g.focus : " ") + " experiment  " + (g.unicode ? "◀ " : "< ") + expText + (g.unicode ? " ▶" : " >"),
                      Style(bold: form.row == 0, reverse: form.row == 0)))
        let w = min(area.width - 4, 72)
        // The description in the width the dialog has, cut with an ellipsis.
        lines.append((Grid.fit("   " + (exp?.description ?? ""), w - 4, unicode: g.unicode), Style(dim: true)))
        lines.append(("", .plain))
        for (i, f) in form.fields.enumerated() {
            let on = form.row == i + 1
            let value = f.choices != nil ? (g.unicode ? "◀ \(f.shown) ▶" : "< \(f.shown) >") : f.shown + (on ? "_" : "")
            lines.append(((on ? g.focus : " ") + " " + Grid.fit(f.label == "eta" ? g.eta : f.label, 14) + value + (f.changed ? "  (changed)" : ""),
                          Style(bold: on, reverse: on)))
        }
        lines.append(("", .plain))
        let onLaunch = form.row == form.launchRow
        lines.append(((onLaunch ? g.focus : " ") + " [ Launch ]", Style(state.color ? .green : nil, bold: true, reverse: onLaunch)))
        if form.error == nil, !form.previewNames.isEmpty {
            lines.append(("", .plain))
            for l in LauncherDialog.preview(form.previewNames, width: 66, lines: 3) { lines.append((l, Style(dim: true))) }
        }
        if let err = form.error {
            lines.append(("", .plain))
            for chunk in LauncherDialog.wrap(err, 64) { lines.append((chunk, Style(state.color ? .red : nil, bold: true))) }
        }
        lines.append(("", .plain))
        lines.append(("↑↓ move · ←→ choose · type numbers · Enter next/launch · Esc cancel", Style(dim: true)))
        let h = min(area.height - 2, lines.count + 2)
        let r = Rect(x: area.x + (area.width - w) / 2, y: area.y + max(1, (area.height - h) / 2), width: w, height: h)
        grid.fill(r)
        Box.draw(&grid, r, title: "Launch a run", glyphs: g, highlight: true)
        for (i, (l, st)) in lines.prefix(h - 2).enumerated() {
            let text = g.unicode ? l : l.replacingOccurrences(of: "↑↓", with: "Up/Down").replacingOccurrences(of: "←→", with: "Left/Right")
            grid.put(r.x + 2, r.y + 1 + i, g.text(text), st, maxWidth: w - 4)
        }
    }

    /// "will start n runs: a, b, …" in at most `lines` lines of `width`, ending with
    /// "and k more" when the names do not all fit.
    static func preview(_ names: [String], width: Int, lines: Int) -> [String] {
        let n = names.count
        let head = "will start \(n) run\(n == 1 ? "" : "s"):"
        for shown in stride(from: n, through: 0, by: -1) {
            let words = [head] + names.prefix(shown).enumerated().map { i, name in name + (i < shown - 1 || shown < n ? "," : "") }
                + (shown < n ? ["and \(n - shown) more"] : [])
            let wrapped = wrap(words.joined(separator: " "), width)
            if wrapped.count <= lines { return wrapped }
        }
        return [head]
    }

    static func wrap(_ s: String, _ width: Int) -> [String] {
        var out: [String] = [], line = ""
        for word in s.split(separator: " ") {
            if line.count + word.count + 1 > width, !line.isEmpty { out.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { out.append(line) }
        return out
    }
}
