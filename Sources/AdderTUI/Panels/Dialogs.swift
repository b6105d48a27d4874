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
        ("B W F", "batch-statistics accuracy; weight distributions; features"),
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

    /// The ASCII spelling, made before the key column is padded (so it stays aligned).
    static func asciiKey(_ k: String) -> String { Glyphs(unicode: false).text(k) }
}

/// The launcher form: the experiment, its common fields, errors, the key hints.
struct LauncherDialog: Widget {
    let form: LauncherForm
    let state: DashboardState
    let glyphs: Glyphs

    func render(into grid: inout Grid, area: Rect) {
        let g = glyphs
        let w = min(area.width - 4, 72)
        // Each line with the priority it keeps when the dialog is short: spacing goes first,
        // then the preview, then the description's extra lines; the experiment, the fields,
        // their errors, Launch, the form's error and the keys always show.
        // `row` is the form row a field's lines belong to (a field and its error), else nil.
        var lines: [(text: String, style: Style, priority: Int, row: Int?)] = []
        let spacing = 0, preview = 1, more = 2, always = 3
        let exp = form.experiments.indices.contains(form.selected) ? form.experiments[form.selected] : nil
        let expText = exp.map { "\($0.name)  (\(form.selected + 1)/\(form.experiments.count))" } ?? "no experiments in experiments/"
        lines.append(((form.row == 0 ? g.focus : " ") + " experiment  " + (g.unicode ? "◀ " : "< ") + expText + (g.unicode ? " ▶" : " >"),
                      Style(bold: form.row == 0, reverse: form.row == 0), always, nil))
        // The description wrapped to three lines (the last cut with an ellipsis).
        let description = LauncherDialog.wrap(g.text(exp?.description ?? ""), w - 7)
        for (i, l) in description.prefix(3).enumerated() {
            let cut = i == 2 && description.count > 3 ? Grid.fit(l + " " + description[3], w - 7, unicode: g.unicode) : l
            lines.append(("   " + cut, Style(dim: true), i == 0 ? always : more, nil))
        }
        lines.append(("", .plain, spacing, nil))
        let errorStyle = Style(state.color ? .red : nil, bold: true)
        for (i, f) in form.fields.enumerated() {
            let on = form.row == i + 1
            let value = f.choices != nil ? (g.unicode ? "◀ \(f.shown) ▶" : "< \(f.shown) >") : f.shown + (on ? "_" : "")
            lines.append(((on ? g.focus : " ") + " " + Grid.fit(f.label == "eta" ? g.eta : f.label, 14) + value + (f.changed ? "  (changed)" : ""),
                          Style(bold: on, reverse: on), always, i + 1))
            if let problem = form.fieldErrors[i] {
                // Its first line always; the rest when there is room (else the first ends in "…").
                // Under the value; in a narrow dialog from further left, so the rule fits.
                let indent = w >= 70 ? 17 : 5
                let wrapped = LauncherDialog.wrap(problem, w - 5 - indent)
                for (k, l) in wrapped.enumerated() {
                    lines.append((String(repeating: " ", count: indent) + l, errorStyle, k == 0 ? always : more, i + 1))
                }
            }
        }
        lines.append(("", .plain, spacing, nil))
        let onLaunch = form.row == form.launchRow
        lines.append(((onLaunch ? g.focus : " ") + " [ Launch ]", Style(state.color ? .green : nil, bold: true, reverse: onLaunch), always, nil))
        if form.error == nil, !form.previewNames.isEmpty {
            lines.append(("", .plain, spacing, nil))
            for l in LauncherDialog.preview(form.previewNames, width: min(66, w - 6), lines: 3) { lines.append((l, Style(dim: true), preview, nil)) }
        }
        // The form's own error (a launch refused), unless a field already says it.
        if let err = form.error, !form.fieldErrors.values.contains(where: { err.hasSuffix($0) }) {
            lines.append(("", .plain, spacing, nil))
            for chunk in LauncherDialog.wrap(err, w - 6) { lines.append((chunk, errorStyle, always, nil)) }
        }
        lines.append(("", .plain, spacing, nil))
        // The keys as they will be drawn (longer in ASCII), shortened when they do not fit.
        func drawn(_ t: String) -> String { g.text(g.unicode ? t : t.replacingOccurrences(of: "↑↓", with: "Up/Down").replacingOccurrences(of: "←→", with: "Left/Right")) }
        let keys = drawn("↑↓ move · ←→ choose · type numbers · Enter next/launch · Esc cancel")
        lines.append((keys.count <= w - 4 ? keys : drawn(g.unicode ? "↑↓ move ←→ choose Enter next/launch Esc cancel" : "↑↓ ←→ Enter next/launch Esc cancel"), Style(dim: true), always, nil))
        // Drop the lowest-priority lines (the last of them first) until the rest fit; an
        // error or description cut to its first line says so with an ellipsis.
        let room = max(area.height - 4, 1)
        for level in [spacing, preview, more] where lines.count > room {
            while lines.count > room, let i = lines.lastIndex(where: { $0.priority == level }) {
                // A line cut from a wrapped text (its previous line kept) ends that line in "…".
                if level == more, i > 0, lines[i - 1].style == lines[i].style, lines[i - 1].priority == always {
                    lines[i - 1].text = Grid.fit(lines[i - 1].text + " " + lines[i].text.trimmingCharacters(in: .whitespaces), w - 4, unicode: g.unicode)
                }
                lines.remove(at: i)
            }
        }
        // Still too many: the fields farthest from the focused one give way (it comes into
        // view as the focus moves).
        while lines.count > room, let far = lines.compactMap(\.row).filter({ $0 != form.row }).max(by: { abs($0 - form.row) < abs($1 - form.row) }) {
            lines.removeAll { $0.row == far }
        }
        let h = min(area.height - 2, lines.count + 2)
        let r = Rect(x: area.x + (area.width - w) / 2, y: area.y + max(1, (area.height - h) / 2), width: w, height: h)
        grid.fill(r)
        Box.draw(&grid, r, title: "Launch a run", glyphs: g, highlight: true)
        for (i, l) in lines.prefix(h - 2).enumerated() {
            let text = g.unicode ? l.text : l.text.replacingOccurrences(of: "↑↓", with: "Up/Down").replacingOccurrences(of: "←→", with: "Left/Right")
            grid.put(r.x + 2, r.y + 1 + i, g.text(text), l.style, maxWidth: w - 4)
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
